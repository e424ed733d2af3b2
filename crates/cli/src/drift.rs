//! `cairn drift DATASET@A DATASET@B`: drift between two dataset versions, column by column.

use std::process::ExitCode;

use cairn_api::{DriftReport, DriftRequest, VersionRef};
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::{Name, ServiceKind};

use crate::features::dataset_ref;
use crate::output::print_json;
use crate::status::service_url;
use crate::table;

fn version(reference: &str) -> anyhow::Result<VersionRef> {
    let (dataset, version) = dataset_ref(reference)?;
    let dataset = Name::parse(&dataset).map_err(|error| anyhow::anyhow!("`{dataset}`: {error}"))?;
    Ok(VersionRef { dataset, version })
}

pub(crate) async fn run(
    config: &CairnConfig,
    reference: &str,
    current: &str,
    columns: Vec<String>,
    fail_on_drift: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let request = DriftRequest {
        reference: version(reference)?,
        current: version(current)?,
        columns,
        drift_share: None,
    };
    let report: DriftReport =
        Client::new(service_url(config, ServiceKind::Monitor)).post("/v1/drift", &request).await?;
    let code = if fail_on_drift && report.dataset_drift { ExitCode::FAILURE } else { ExitCode::SUCCESS };
    if json {
        print_json(&report)?;
        return Ok(code);
    }
    let mut rows = vec![
        ["COLUMN", "KIND", "METHOD", "VALUE", "THRESHOLD", "DRIFTED", "ROWS (REF / CUR)"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for column in &report.columns {
        rows.push(vec![
            column.column.clone(),
            column.kind.clone(),
            column.method.clone(),
            format!("{:.4}", column.value),
            format!("{}", column.threshold),
            if column.drifted { "yes".into() } else { "no".into() },
            format!("{} / {}", column.reference_rows, column.current_rows),
        ]);
    }
    table::print(&rows);
    println!(
        "\n{} against {}: {} of {} columns drifted ({:.0}%, the dataset drifts at {:.0}%): {}",
        report.current,
        report.reference,
        report.drifted_columns,
        report.columns.len(),
        report.share * 100.0,
        report.share_threshold * 100.0,
        if report.dataset_drift { "DRIFT" } else { "no drift" }
    );
    Ok(code)
}

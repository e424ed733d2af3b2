//! `cairn ingest FILE --dataset NAME`: a streamed batch upload with a progress bar, or an import
//! the service reads itself when FILE is a URL.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use cairn_api::{Batch, NewImport};
use cairn_client::{Client, ClientError};
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use futures::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::io::ReaderStream;

use crate::status::service_url;

pub(crate) async fn run(
    config: &CairnConfig,
    file: &Path,
    dataset: &str,
    format: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let client = Client::new(service_url(config, ServiceKind::Ingestion));
    let started = std::time::Instant::now();
    let source = file.to_string_lossy();
    let result = if source.contains("://") {
        // The service reads the source itself (s3://, http(s)://, file:// under its import roots).
        let progress = if json { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
        progress.set_message(format!("{source} is being ingested by the service"));
        progress.enable_steady_tick(std::time::Duration::from_millis(120));
        let import = NewImport { url: source.into_owned(), format: format.map(str::to_owned) };
        let result = client.import(dataset, &import).await;
        progress.finish_and_clear();
        result
    } else {
        upload(&client, file, dataset, format, json).await?
    };
    let batch = match result {
        Ok(batch) => batch,
        Err(error) => {
            if json && let cairn_client::ClientError::Api { body, .. } = &error {
                println!("{}", serde_json::to_string_pretty(body)?);
            }
            bail!("{error}");
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&batch)?);
        return Ok(ExitCode::SUCCESS);
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut rows = vec![vec!["BATCH".to_owned(), batch.id.clone()]];
    rows.push(vec!["state".into(), batch.state.clone()]);
    rows.push(vec!["version".into(), batch.version.map_or("-".into(), |v| v.to_string())]);
    if let Some(report) = &batch.report {
        rows.push(vec!["rows in".into(), report.rows_in.to_string()]);
        rows.push(vec!["accepted".into(), report.rows_accepted.to_string()]);
        rows.push(vec!["quarantined".into(), report.rows_quarantined.to_string()]);
        for (rule, count) in &report.quarantined_by_rule {
            rows.push(vec![format!("  {rule}"), count.to_string()]);
        }
        rows.push(vec!["rows/s".into(), format!("{:.0}", report.rows_in as f64 / seconds.max(1e-9))]);
    }
    rows.push(vec!["files".into(), batch.files.len().to_string()]);
    crate::table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

/// Streams a local file to the service with a progress bar.
async fn upload(
    client: &Client,
    file: &Path,
    dataset: &str,
    format: Option<&str>,
    json: bool,
) -> anyhow::Result<Result<Batch, ClientError>> {
    let content_type = match format.or_else(|| file.extension().and_then(|e| e.to_str())) {
        Some("csv") => "text/csv",
        Some("jsonl" | "ndjson") => "application/x-ndjson",
        Some("parquet") => "application/vnd.apache.parquet",
        Some(other) => bail!("unknown format `{other}`: use --format csv, jsonl or parquet"),
        None => bail!("cannot tell the format of {}: use --format csv, jsonl or parquet", file.display()),
    };
    let opened = tokio::fs::File::open(file).await.with_context(|| format!("opening {}", file.display()))?;
    let size = opened.metadata().await?.len();
    let progress = if json { ProgressBar::hidden() } else { ProgressBar::new(size) };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let counter = progress.clone();
    let stream = ReaderStream::with_capacity(opened, 1 << 20).inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            counter.inc(chunk.len() as u64);
        }
    });
    let result = client.ingest(dataset, content_type, reqwest::Body::wrap_stream(stream)).await;
    progress.finish_and_clear();
    Ok(result)
}

//! Drift between dataset versions through the monitor: the columns that moved are named, those
//! that did not are not, and the dataset's verdict follows the share.

use cairn_api::{DriftReport, DriftRequest, VersionRef};
use cairn_domain::{Name, ServiceKind};

use crate::Platform;
use crate::training::{customers, customers_csv};

/// The customers again, a month later: tenure longer by 30, everyone in the north.
fn shifted(rows: u64) -> String {
    let csv = customers_csv(rows);
    let mut lines = csv.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for line in lines {
        let mut fields: Vec<String> = line.split(',').map(str::to_owned).collect();
        fields[2] = format!("{:.3}", fields[2].parse::<f64>().unwrap() + 30.0);
        fields[5] = "north".into();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn drift_between_dataset_versions_names_the_columns_that_moved() {
    let platform =
        Platform::start_with(crate::Store::Sqlite, &[ServiceKind::Ingestion, ServiceKind::Monitor], &[])
            .await;
    let ingestion = platform.client(ServiceKind::Ingestion);
    for (name, csv) in [("before", customers_csv(1500)), ("after", shifted(1500))] {
        let mut dataset = customers();
        dataset.name = Name::parse(name).unwrap();
        ingestion.create_dataset(&dataset).await.unwrap();
        ingestion.ingest(name, "text/csv", csv).await.unwrap();
    }
    let monitor = platform.client(ServiceKind::Monitor);
    let version = |dataset: &str| VersionRef { dataset: Name::parse(dataset).unwrap(), version: Some(1) };
    let request = DriftRequest {
        reference: version("before"),
        current: version("after"),
        columns: vec!["tenure".into(), "spend".into(), "region".into()],
        drift_share: None,
    };
    let report: DriftReport = monitor.post("/v1/drift", &request).await.unwrap();
    let verdict = |name: &str| report.columns.iter().find(|column| column.column == name).unwrap();
    assert_eq!(
        (verdict("tenure").method.as_str(), verdict("tenure").drifted),
        ("wasserstein", true),
        "{report:#?}"
    );
    assert!(
        verdict("tenure").value > 1.0,
        "30 more months is over a standard deviation of tenure: {}",
        verdict("tenure").value
    );
    assert_eq!((verdict("spend").method.as_str(), verdict("spend").drifted), ("wasserstein", false));
    assert_eq!(
        verdict("spend").reference_missing,
        verdict("spend").current_missing,
        "missing spends counted apart"
    );
    assert_eq!((verdict("region").method.as_str(), verdict("region").drifted), ("jensen_shannon", true));
    assert_eq!((report.drifted_columns, report.dataset_drift), (2, true));
    assert_eq!((report.reference.as_str(), report.current.as_str()), ("before@1", "after@1"));

    // Every column both hold, by default: the same data against itself drifts nowhere.
    let same = DriftRequest { current: version("before"), columns: Vec::new(), ..request.clone() };
    let report: DriftReport = monitor.post("/v1/drift", &same).await.unwrap();
    let columns: Vec<&str> = report.columns.iter().map(|column| column.column.as_str()).collect();
    assert_eq!(columns, ["id", "tenure", "spend", "visits", "region", "churned"], "all but the event time");
    assert!(report.columns.iter().all(|column| !column.drifted) && !report.dataset_drift, "{report:#?}");

    // Bad requests name what is wrong.
    let missing = DriftRequest { columns: vec!["colour".into()], ..request.clone() };
    let error = monitor.post::<_, DriftReport>("/v1/drift", &missing).await.unwrap_err();
    assert!(
        matches!(&error, cairn_client::ClientError::Api { status: 422, .. })
            && error.to_string().contains("colour"),
        "{error}"
    );
    let unknown = DriftRequest { current: version("later"), ..request };
    let error = monitor.post::<_, DriftReport>("/v1/drift", &unknown).await.unwrap_err();
    assert!(matches!(error, cairn_client::ClientError::Api { status: 404, .. }), "{error}");
    platform.stop().await;
}

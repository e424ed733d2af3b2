use cairn_domain::ServiceKind;

use crate::{Platform, Store, eventually};

async fn six_services_are_ready_and_describe_themselves(store: Store) {
    let platform = Platform::start(store).await;
    for kind in ServiceKind::ALL {
        let client = platform.client(kind);
        let report = client.readiness().await.unwrap();
        assert!(report.ready, "{kind} on {store:?}: {:?}", report.reasons);
        assert_eq!(report.service, kind.as_str());
        assert_eq!(client.health().await.unwrap().status, "ok");

        let openapi: serde_json::Value = client.get("/openapi.json").await.unwrap();
        assert_eq!(openapi["info"]["title"], format!("cairn-{kind}"));
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
            assert!(openapi["paths"][path].is_object(), "{kind} documents {path}");
        }

        let metrics = reqwest::get(format!("{}/metrics", client.base_url())).await.unwrap();
        assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = metrics.text().await.unwrap();
        let line = format!(
            "cairn_http_requests_total{{method=\"GET\",route=\"/openapi.json\",status=\"200\",service=\"{kind}\"}} 1"
        );
        let found: Vec<_> = text.lines().filter(|l| l.starts_with("cairn_http_requests_total")).collect();
        assert!(text.contains(&line), "{kind}: {found:#?}");
    }
    let ingestion: serde_json::Value =
        platform.client(ServiceKind::Ingestion).get("/openapi.json").await.unwrap();
    assert!(ingestion["paths"]["/v1/datasets"]["post"].is_object());
    platform.stop().await;
}

#[tokio::test]
async fn six_services_are_ready_on_sqlite() {
    six_services_are_ready_and_describe_themselves(Store::Sqlite).await;
}

#[tokio::test]
async fn six_services_are_ready_on_postgres() {
    six_services_are_ready_and_describe_themselves(Store::Postgres).await;
}

#[tokio::test]
async fn readiness_names_the_reason_and_recovers_when_nats_returns() {
    let mut platform = Platform::start_with(Store::Sqlite, &[ServiceKind::Registry], &[]).await;
    let client = platform.client(ServiceKind::Registry);
    platform.nats.kill9();
    let reasons = eventually("not ready", || async {
        let report = client.readiness().await.ok()?;
        (!report.ready).then_some(report.reasons)
    })
    .await;
    assert!(reasons.iter().any(|r| r.starts_with("nats:")), "{reasons:?}");
    let status = reqwest::get(format!("{}/readyz", client.base_url())).await.unwrap().status();
    assert_eq!(status.as_u16(), 503);

    platform.nats.restart().await;
    eventually("ready again", || async { client.readiness().await.ok().filter(|r| r.ready) }).await;
    platform.stop().await;
}

//! Feature definitions: planned, applied as a whole, versioned, checked against the source
//! datasets.

use cairn_api::{Action, Definitions, Plan};
use cairn_client::Client;
use cairn_domain::ServiceKind;
use serde_json::json;

use crate::{Platform, Store, eventually};

fn definitions(value: serde_json::Value) -> Definitions {
    serde_json::from_value(value).unwrap()
}

fn spend(features: serde_json::Value, description: &str) -> serde_json::Value {
    json!({
        "entities": [{"name": "customer", "join_keys": ["id"]}],
        "feature_views": [{
            "name": "spend", "source": "payments", "entities": ["customer"], "features": features,
            "ttl_seconds": 86400, "description": description
        }],
        "feature_services": [{"name": "fraud", "features": ["spend"]}]
    })
}

/// A planned change as (kind, name, action, from version, to version).
type Change = (String, String, Action, Option<i64>, Option<i64>);

fn actions(plan: &Plan) -> Vec<Change> {
    plan.changes
        .iter()
        .map(|c| (c.kind.clone(), c.name.to_string(), c.action, c.from_version, c.to_version))
        .collect()
}

fn change(kind: &str, name: &str, action: Action, from: Option<i64>, to: Option<i64>) -> Change {
    (kind.to_owned(), name.to_owned(), action, from, to)
}

/// Ingestion and the feature store, with the `payments` dataset declared and known to the
/// feature store; the clients of both.
pub(crate) async fn with_payments(store: Store) -> (Platform, Client, Client) {
    let platform =
        Platform::start_with(store, &[ServiceKind::Ingestion, ServiceKind::FeatureStore], &[]).await;
    let ingestion = platform.client(ServiceKind::Ingestion);
    let features = platform.client(ServiceKind::FeatureStore);
    ingestion.create_dataset(&crate::batches::dataset()).await.unwrap();
    eventually("the source dataset", || async { features.source_dataset("payments").await.ok() }).await;
    (platform, ingestion, features)
}

async fn definitions_are_planned_applied_as_a_whole_and_versioned(store: Store) {
    let (platform, _, features) = with_payments(store).await;

    // Created, then the same again changes nothing.
    let first = definitions(spend(json!([{"name": "amount", "type": "float64"}]), ""));
    let plan = features.plan_features(&first).await.unwrap();
    assert_eq!(
        actions(&plan),
        [
            change("entity", "customer", Action::Create, None, None),
            change("feature_view", "spend", Action::Create, None, Some(1)),
            change("feature_service", "fraud", Action::Create, None, Some(1)),
        ]
    );
    assert_eq!(features.apply_features(&first, Some(plan.digest.clone())).await.unwrap(), plan);
    assert!(features.plan_features(&first).await.unwrap().is_empty());

    // A new feature: a new view version, and the service pins it in a new version of its own.
    let second = definitions(spend(
        json!([{"name": "amount", "type": "float64"}, {"name": "channel", "type": "categorical", "values": ["web"]}]),
        "",
    ));
    let plan = features.apply_features(&second, None).await.unwrap();
    assert_eq!(
        actions(&plan),
        [
            change("entity", "customer", Action::Unchanged, None, None),
            change("feature_view", "spend", Action::NewVersion, Some(1), Some(2)),
            change("feature_service", "fraud", Action::NewVersion, Some(1), Some(2)),
        ]
    );
    assert_eq!(plan.changes[1].fields, ["features"]);
    let versions = features.feature_view_versions("spend").await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].definition.features.len(), 1, "version 1 stays as it was");
    assert_eq!(versions[1].join_keys[0].as_str(), "id");
    assert_eq!(versions[1].timestamp_field.as_str(), "ts", "the dataset's event time by default");
    let services = features.feature_service_versions("fraud").await.unwrap();
    let pinned = &services[1].projections[0];
    assert_eq!((pinned.feature_view.as_str(), pinned.version, pinned.features.len()), ("spend", 2, 2));
    assert_eq!(services[0].projections[0].version, 1);

    // A description changes in place.
    let described = definitions(spend(
        json!([{"name": "amount", "type": "float64"}, {"name": "channel", "type": "categorical", "values": ["web"]}]),
        "what customers spend",
    ));
    let plan = features.apply_features(&described, None).await.unwrap();
    assert_eq!(plan.changes[1].action, Action::Update);
    assert_eq!(features.feature_view_versions("spend").await.unwrap().len(), 2);

    // A confirmed plan that no longer holds is refused, and nothing changes.
    let stale = features.plan_features(&first).await.unwrap();
    let mut renamed = serde_json::to_value(&described).unwrap();
    renamed["entities"][0]["description"] = json!("people who pay");
    let plan = features.apply_features(&definitions(renamed), None).await.unwrap();
    assert_eq!(
        (plan.changes[0].action, plan.changes[0].fields.as_slice()),
        (Action::Update, &["description".to_owned()][..])
    );
    let error = features.apply_features(&first, Some(stale.digest)).await.unwrap_err();
    assert_eq!(error.code(), Some("conflict"));
    assert_eq!(features.feature_view_versions("spend").await.unwrap().len(), 2);

    // Bad definitions name the object and field; nothing of them is applied.
    let bad = [
        (json!({"source": "nothing"}), "source", "no dataset `nothing`"),
        (
            json!({"features": [{"name": "amount", "type": "float64"}, {"name": "tip", "type": "float64"}]}),
            "features[1]",
            "no column `tip`",
        ),
        (
            json!({"features": [{"name": "amount", "type": "string"}]}),
            "features[0]",
            "declared string but dataset `payments` holds float64",
        ),
        (json!({"entities": ["merchant"]}), "entities[0]", "no entity `merchant`"),
        (json!({"timestamp_field": "amount"}), "timestamp_field", "`amount` is not a timestamp column"),
        (
            json!({"sql": "SELEC id, ts, amount FROM payments"}),
            "sql",
            "sql: Expected: an SQL statement, found: SELEC at Line: 1, Column: 1",
        ),
        (json!({"sql": "DELETE FROM payments"}), "sql", "only a query"),
        (
            json!({"sql": "SELECT id, ts, amount FROM refunds"}),
            "sql",
            "reads `refunds`, which is neither the source dataset `payments` nor a feature view",
        ),
        (json!({"sql": "SELECT id, ts, tip AS amount FROM payments"}), "sql", "sql: No field named tip"),
        (
            json!({"sql": "SELECT id, ts FROM payments"}),
            "features[0]",
            "the result of `sql` has no column `amount`",
        ),
        (
            json!({"sql": "SELECT id, ts, CAST(amount AS VARCHAR) AS amount FROM payments"}),
            "features[0]",
            "declared float64 but the result of `sql` holds string",
        ),
    ];
    for (patch, field, message) in bad {
        let mut value = spend(json!([{"name": "amount", "type": "float64"}]), "");
        for (key, replacement) in patch.as_object().unwrap() {
            value["feature_views"][0][key] = replacement.clone();
        }
        value["feature_views"].as_array_mut().unwrap().push(json!({
            "name": "extra", "source": "payments", "entities": ["customer"],
            "features": [{"name": "amount", "type": "float64"}]
        }));
        let error = features.apply_features(&definitions(value), None).await.unwrap_err();
        let cairn_client::ClientError::Api { status, body } = error else { panic!("{error}") };
        assert_eq!(status, 422, "{field}");
        let details = body.error.details.unwrap();
        assert_eq!(
            (details["kind"].as_str(), details["name"].as_str(), details["field"].as_str()),
            (Some("feature_view"), Some("spend"), Some(field))
        );
        assert!(body.error.message.contains(message), "{}", body.error.message);
    }
    // Queries that read each other are refused, naming the cycle.
    let mut value = spend(json!([{"name": "amount", "type": "float64"}]), "");
    value["feature_views"][0]["sql"] = json!("SELECT id, ts, amount FROM extra");
    value["feature_views"].as_array_mut().unwrap().push(json!({
        "name": "extra", "source": "payments", "entities": ["customer"],
        "features": [{"name": "amount", "type": "float64"}], "sql": "SELECT * FROM spend"
    }));
    let error = features.apply_features(&definitions(value), None).await.unwrap_err();
    assert!(
        error.to_string().contains(
            "feature_view `extra`, sql: the queries read each other in a cycle: extra → spend → extra"
        ),
        "{error}"
    );
    let mut value = spend(json!([{"name": "amount", "type": "float64"}]), "");
    value["feature_services"][0]["features"] = json!(["spend:tip"]);
    let error = features.apply_features(&definitions(value), None).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("feature_service `fraud`, features[0]: feature view `spend` has no feature `tip`"),
        "{error}"
    );
    assert!(
        features.feature_views().await.unwrap().iter().all(|v| v.definition.name.as_str() == "spend"),
        "no `extra` view"
    );
    assert_eq!(features.feature_view_versions("spend").await.unwrap().len(), 2);

    // What the files no longer hold is deleted; its versions stay readable.
    let mut without_service = spend(
        json!([{"name": "amount", "type": "float64"}, {"name": "channel", "type": "categorical", "values": ["web"]}]),
        "",
    );
    without_service["feature_services"] = json!([]);
    let plan = features.apply_features(&definitions(without_service.clone()), None).await.unwrap();
    assert_eq!(plan.changes.last().map(|c| (c.action, c.from_version)), Some((Action::Delete, Some(2))));
    let services = features.feature_services().await.unwrap();
    assert!(services[0].deleted);
    assert_eq!(features.feature_service_versions("fraud").await.unwrap().len(), 2);
    let missing = features.feature_view_versions("nothing").await.unwrap_err();
    assert_eq!(missing.code(), Some("not_found"));

    // Two applies at once: one waits for the other, then plans against what it left.
    let (mut shorter, mut longer) = (without_service.clone(), without_service.clone());
    shorter["feature_views"][0]["ttl_seconds"] = json!(3600);
    longer["feature_views"][0]["ttl_seconds"] = json!(7200);
    let (shorter, longer) = (definitions(shorter), definitions(longer));
    let (a, b) =
        tokio::join!(features.apply_features(&shorter, None), features.apply_features(&longer, None));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut made: Vec<Option<i64>> = vec![a.changes[1].to_version, b.changes[1].to_version];
    made.sort_unstable();
    assert_eq!(made, [Some(3), Some(4)], "{store:?}");
    assert_eq!(features.feature_view_versions("spend").await.unwrap().len(), 4);

    // Each new view version was announced.
    let event = crate::last_event(&platform, |e: &cairn_events::v1::FeatureViewApplied| e.version == 4).await;
    assert_eq!(event.feature_view.as_str(), "spend");
    assert!([3600, 7200].contains(&event.ttl_seconds), "{}", event.ttl_seconds);
    assert_eq!(event.features, ["amount", "channel"]);
    platform.stop().await;
}

#[tokio::test]
async fn definitions_are_planned_applied_as_a_whole_and_versioned_on_sqlite() {
    definitions_are_planned_applied_as_a_whole_and_versioned(Store::Sqlite).await;
}

#[tokio::test]
async fn definitions_are_planned_applied_as_a_whole_and_versioned_on_postgres() {
    definitions_are_planned_applied_as_a_whole_and_versioned(Store::Postgres).await;
}

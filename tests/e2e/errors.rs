//! Bad input gets a 4xx in the platform's one error shape, never a 500, a panic or HTML.

use cairn_api::ErrorBody;
use cairn_domain::ServiceKind;

use crate::{Platform, Store};

async fn send(request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, ErrorBody) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not the error shape ({e}): {text}"));
    (status, headers, body)
}

#[tokio::test]
async fn bad_requests_get_a_4xx_in_the_error_shape() {
    let platform = Platform::start_with(
        Store::Sqlite,
        &[ServiceKind::Ingestion],
        &[("CAIRN__HTTP__MAX_BODY_BYTES", "2048")],
    )
    .await;
    let base = platform.service(ServiceKind::Ingestion).url();
    let http = reqwest::Client::new();
    let datasets = format!("{base}/v1/datasets");
    let json = |body: String| http.post(&datasets).header("content-type", "application/json").body(body);
    let valid_schema =
        r#"{"columns":[{"name":"ts","type":"timestamp","nullable":false}],"event_timestamp":"ts"}"#;

    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        ("malformed JSON", json("{\"name\": ".into()), 400, "bad_request"),
        ("wrong type", json(format!(r#"{{"name": 7, "schema": {valid_schema}}}"#)), 422, "invalid_request"),
        ("missing field", json(r#"{"name": "a"}"#.into()), 422, "invalid_request"),
        (
            "unknown field",
            json(format!(r#"{{"name":"a","schema":{valid_schema},"x":1}}"#)),
            422,
            "invalid_request",
        ),
        (
            "invalid name",
            json(format!(r#"{{"name":"../etc","schema":{valid_schema}}}"#)),
            422,
            "invalid_request",
        ),
        (
            "invalid schema",
            json(
                r#"{"name":"a","schema":{"columns":[{"name":"ts","type":"string"}],"event_timestamp":"ts"}}"#
                    .into(),
            ),
            422,
            "invalid_request",
        ),
        ("oversize body", json(format!(r#"{{"name":"{}"}}"#, "a".repeat(4096))), 413, "payload_too_large"),
        (
            "wrong content type",
            http.post(&datasets).header("content-type", "text/plain").body("{}"),
            415,
            "unsupported_media_type",
        ),
        ("unknown route", http.get(format!("{base}/v1/nothing/here")), 404, "not_found"),
        ("wrong method", http.delete(&datasets), 405, "method_not_allowed"),
        ("unknown dataset", http.get(format!("{datasets}/missing")), 404, "not_found"),
    ];
    for (case, request, status, code) in cases {
        let (got, headers, body) = send(request).await;
        assert_eq!((got, body.error.code.as_str()), (status, code), "{case}: {body:?}");
        assert!(!body.error.message.is_empty(), "{case}");
        assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"), "{case}");
        if status == 405 {
            assert!(headers.contains_key("allow"), "{case}: 405 names the allowed methods");
        }
    }

    let created = json(format!(r#"{{"name":"twice","schema":{valid_schema}}}"#)).send().await.unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let (status, _, body) = send(json(format!(r#"{{"name":"twice","schema":{valid_schema}}}"#))).await;
    assert_eq!((status, body.error.code.as_str()), (409, "conflict"));
    platform.stop().await;
}

#[tokio::test]
async fn every_service_answers_unknown_routes_in_the_error_shape() {
    let platform = Platform::start(Store::Sqlite).await;
    for kind in ServiceKind::ALL {
        let url = format!("{}/no/such/route", platform.service(kind).url());
        let (status, _, body) = send(reqwest::Client::new().get(url)).await;
        assert_eq!((status, body.error.code.as_str()), (404, "not_found"), "{kind}");
        let url = format!("{}/healthz", platform.service(kind).url());
        let (status, _, body) = send(reqwest::Client::new().post(url)).await;
        assert_eq!((status, body.error.code.as_str()), (405, "method_not_allowed"), "{kind}");
    }
    platform.stop().await;
}

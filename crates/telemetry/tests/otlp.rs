//! Spans leave the process over OTLP/HTTP when an endpoint is configured. (Its own test binary:
//! telemetry is installed once per process.)
#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

/// A minimal OTLP/HTTP collector: answers 200 and hands over (path, body) of each request.
fn collector() -> (String, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
                )
                .unwrap();
            let _ = sender.send((path, body));
        }
    });
    (url, receiver)
}

#[test]
fn spans_are_exported_to_the_configured_endpoint() {
    let (url, requests) = collector();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cairn.toml");
    std::fs::write(&file, "").unwrap();
    let env = vec![("CAIRN__TELEMETRY__OTLP_ENDPOINT".to_owned(), url)];
    let config = cairn_config::load_from(Some(&file), env).unwrap();
    let guard = cairn_telemetry::init("cairn-otlp-test", &config.telemetry).unwrap();

    let trace_id = "5b8efff798038103d269b633813fc60c";
    let span = tracing::info_span!("exported.operation");
    let traceparent = format!("00-{trace_id}-eee19b7ec3c1b174-01");
    cairn_telemetry::propagation::set_parent_from(&span, |key| {
        (key == "traceparent").then(|| traceparent.clone())
    });
    assert_eq!(cairn_telemetry::propagation::trace_id(&span).as_deref(), Some(trace_id));
    span.in_scope(|| tracing::info!("inside"));
    drop(span);
    drop(guard); // flushes

    let (path, body) = requests.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(path, "/v1/traces");
    let id: Vec<u8> = (0..16).map(|i| u8::from_str_radix(&trace_id[2 * i..2 * i + 2], 16).unwrap()).collect();
    assert!(body.windows(16).any(|window| window == id.as_slice()), "the exported span carries the trace id");
    assert!(body.windows(18).any(|window| window == b"exported.operation"), "and its name");
}

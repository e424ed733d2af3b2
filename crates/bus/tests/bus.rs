//! The bus against a real nats-server: durability across kill -9, de-duplication, the consumer
//! loop's ack/nak/term, trace propagation, credentials.

#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_bus::{Bus, BusError, Delivery, HandlerError};
use cairn_config::NatsConfig;
use cairn_domain::{EventId, ServiceKind};
use cairn_events::topology::ConsumerSpec;
use cairn_events::v1::DatasetCreated;
use cairn_telemetry::Metrics;
use cairn_testkit::NatsServer;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

fn nats_config(url: &str) -> NatsConfig {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        ("CAIRN__NATS__URL".to_owned(), url.to_owned()),
        ("CAIRN__NATS__CONNECT_TIMEOUT_SECS".to_owned(), "10".to_owned()),
    ];
    let empty = dir.path().join("cairn.toml");
    std::fs::write(&empty, "").unwrap();
    cairn_config::load_from(Some(&empty), env).unwrap().nats
}

async fn bus(server: &NatsServer) -> Bus {
    let bus = Bus::connect(&nats_config(&server.url()), ServiceKind::Ingestion, Metrics::new("test"))
        .await
        .unwrap();
    bus.ensure_topology().await.unwrap();
    bus
}

fn event(name: &str) -> DatasetCreated {
    DatasetCreated { dataset: name.into(), schema_json: "{}".into(), created_at_unix_micros: 1 }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A durable consumer on the datasets stream, as a service would declare it.
fn spec(durable: &'static str) -> &'static ConsumerSpec {
    Box::leak(Box::new(ConsumerSpec {
        durable,
        stream: "CAIRN_DATASETS",
        filter_subject: "cairn.datasets.created",
        owner: ServiceKind::FeatureStore,
        ack_wait: Duration::from_secs(30),
        max_deliver: 5,
    }))
}

type Seen = Arc<Mutex<Vec<(EventId, String, i64)>>>;

fn recorder(
    seen: &Seen,
) -> impl Fn(Delivery<DatasetCreated>) -> futures::future::Ready<Result<(), HandlerError>> + Send + Sync + 'static
{
    let seen = seen.clone();
    move |delivery| {
        seen.lock().unwrap().push((delivery.event_id, delivery.event.dataset, delivery.delivered));
        futures::future::ready(Ok(()))
    }
}

#[tokio::test]
async fn acknowledged_event_survives_kill9_and_is_consumed_exactly_once() {
    let mut server = NatsServer::start().await;
    let bus = bus(&server).await;
    let published = bus.publish(&event("before_crash")).await.unwrap();
    assert!(!published.duplicate);

    server.kill9();
    server.restart().await;
    let client = bus.client().clone();
    eventually("reconnect", || bus.is_connected()).await;
    client.flush().await.unwrap();

    let seen: Seen = Arc::default();
    let stop = CancellationToken::new();
    let consumer = bus.consume(spec("test_durability"), stop.clone(), recorder(&seen)).await.unwrap();
    eventually("delivery", || !seen.lock().unwrap().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    consumer.stop().await;

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, vec![(published.event_id, "before_crash".to_owned(), 1)]);
    let mut stream = bus.jetstream().get_stream("CAIRN_DATASETS").await.unwrap();
    let mut durable = stream
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>("test_durability")
        .await
        .unwrap();
    let info = durable.info().await.unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0), "the ack was stored");
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
}

#[tokio::test]
async fn republishing_an_event_id_stores_it_once() {
    let server = NatsServer::start().await;
    let bus = bus(&server).await;
    let id = EventId::new();
    let first = bus.publish_with_id(id, &event("once")).await.unwrap();
    let second = bus.publish_with_id(id, &event("once")).await.unwrap();
    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(first.sequence, second.sequence);
    let mut stream = bus.jetstream().get_stream("CAIRN_DATASETS").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
}

#[tokio::test]
async fn handler_errors_redeliver_after_the_delay_or_stop_redelivery() {
    let server = NatsServer::start().await;
    let bus = bus(&server).await;
    bus.publish(&event("flaky")).await.unwrap();
    bus.publish(&event("poison")).await.unwrap();
    bus.client().publish("cairn.datasets.created", "not protobuf".into()).await.unwrap();

    let seen: Seen = Arc::default();
    let log = seen.clone();
    let handler = move |delivery: Delivery<DatasetCreated>| {
        log.lock().unwrap().push((delivery.event_id, delivery.event.dataset.clone(), delivery.delivered));
        let result = match (delivery.event.dataset.as_str(), delivery.delivered) {
            ("flaky", 1) => {
                Err(HandlerError::Retry { reason: "not yet".into(), after: Duration::from_millis(300) })
            }
            ("poison", _) => Err(HandlerError::Reject("never".into())),
            _ => Ok(()),
        };
        futures::future::ready(result)
    };
    let started = Instant::now();
    let consumer = bus.consume(spec("test_retry"), CancellationToken::new(), handler).await.unwrap();
    eventually("redelivery", || seen.lock().unwrap().iter().any(|(_, name, n)| name == "flaky" && *n == 2))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(300), "the nak delay was honoured");
    tokio::time::sleep(Duration::from_millis(800)).await;
    consumer.stop().await;

    let seen = seen.lock().unwrap().clone();
    let deliveries = |name: &str| seen.iter().filter(|(_, n, _)| n == name).count();
    assert_eq!(deliveries("flaky"), 2);
    assert_eq!(deliveries("poison"), 1, "a rejected event is not redelivered");
    let stream = bus.jetstream().get_stream("CAIRN_DATASETS").await.unwrap();
    let mut durable =
        stream.get_consumer::<async_nats::jetstream::consumer::pull::Config>("test_retry").await.unwrap();
    let info = durable.info().await.unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0), "undecodable messages are terminated too");
}

#[tokio::test]
async fn the_consumer_continues_the_publishers_trace() {
    let config = cairn_testkit::config("nats://127.0.0.1:1", None, std::path::Path::new("."), &[]);
    let _telemetry = cairn_telemetry::init("test", &config.telemetry).unwrap();
    let server = NatsServer::start().await;
    let bus = bus(&server).await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let span = tracing::info_span!("request");
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    cairn_telemetry::propagation::set_parent_from(&span, |key| {
        (key == "traceparent").then(|| traceparent.clone())
    });
    let published = bus.publish(&event("traced")).instrument(span).await.unwrap();

    let seen: Arc<Mutex<Option<Option<String>>>> = Arc::default();
    let slot = seen.clone();
    let consumer = bus
        .consume(spec("test_trace"), CancellationToken::new(), move |delivery: Delivery<DatasetCreated>| {
            *slot.lock().unwrap() = Some(delivery.trace_id);
            futures::future::ready(Ok(()))
        })
        .await
        .unwrap();
    eventually("delivery", || seen.lock().unwrap().is_some()).await;
    consumer.stop().await;
    assert!(!published.duplicate);
    assert_eq!(seen.lock().unwrap().clone().flatten().as_deref(), Some(trace_id));
}

#[tokio::test]
async fn topology_is_idempotent_and_concurrent_safe() {
    let server = NatsServer::start().await;
    let (a, b) = tokio::join!(bus(&server), bus(&server));
    let (x, y) = tokio::join!(a.ensure_topology(), b.ensure_topology());
    x.unwrap();
    y.unwrap();
    assert!(a.missing_streams().await.unwrap().is_empty());
    a.jetstream().delete_stream("CAIRN_MONITOR").await.unwrap();
    assert_eq!(a.missing_streams().await.unwrap(), vec!["CAIRN_MONITOR"]);
    a.ensure_topology().await.unwrap();
    assert!(a.missing_streams().await.unwrap().is_empty());

    // A durable whose settings changed in a new release is updated in place.
    let before = spec("test_update");
    a.consume(before, CancellationToken::new(), recorder(&Seen::default())).await.unwrap().stop().await;
    let after: &'static ConsumerSpec =
        Box::leak(Box::new(ConsumerSpec { ack_wait: Duration::from_secs(45), max_deliver: 9, ..*before }));
    a.consume(after, CancellationToken::new(), recorder(&Seen::default())).await.unwrap().stop().await;
    let stream = a.jetstream().get_stream("CAIRN_DATASETS").await.unwrap();
    let mut durable =
        stream.get_consumer::<async_nats::jetstream::consumer::pull::Config>("test_update").await.unwrap();
    let config = durable.info().await.unwrap().config.clone();
    assert_eq!((config.ack_wait, config.max_deliver), (Duration::from_secs(45), 9));
}

#[tokio::test]
async fn publishing_to_an_undeclared_subject_is_refused() {
    let server = NatsServer::start().await;
    let bus = bus(&server).await;
    let raw =
        cairn_bus::RawEvent { subject: "cairn.nowhere.x".into(), ..cairn_bus::RawEvent::new(&event("x")) };
    assert!(matches!(bus.publish_raw(&raw).await, Err(BusError::NoStream(_))));
}

#[tokio::test]
async fn connect_retries_until_the_server_is_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = nats_config(&format!("nats://127.0.0.1:{port}"));
    let connecting =
        tokio::spawn(async move { Bus::connect(&config, ServiceKind::Training, Metrics::new("t")).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let server = tokio::process::Command::new(
        std::env::var("CAIRN_TEST_NATS_SERVER").unwrap_or_else(|_| "nats-server".into()),
    )
    .args(["-a", "127.0.0.1", "-p", &port.to_string()])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    let bus = connecting.await.unwrap().unwrap();
    assert!(bus.is_connected());
    drop(server);
}

fn nats_config_with(url: &str, settings: &[(&str, &str)]) -> NatsConfig {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cairn.toml");
    std::fs::write(&file, "").unwrap();
    let mut env = vec![
        ("CAIRN__NATS__URL".to_owned(), url.to_owned()),
        ("CAIRN__NATS__CONNECT_TIMEOUT_SECS".to_owned(), "1".to_owned()),
    ];
    env.extend(settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    cairn_config::load_from(Some(&file), env).unwrap().nats
}

#[tokio::test]
async fn a_token_comes_from_configuration() {
    let server = NatsServer::start_with(&["--auth", "t0ken"]).await;
    let wrong = nats_config_with(&server.url(), &[("CAIRN__NATS__TOKEN", "nope")]);
    assert!(Bus::connect(&wrong, ServiceKind::Serving, Metrics::new("t")).await.is_err());
    let right = nats_config_with(&server.url(), &[("CAIRN__NATS__TOKEN", "t0ken")]);
    Bus::connect(&right, ServiceKind::Serving, Metrics::new("t"))
        .await
        .unwrap()
        .ensure_topology()
        .await
        .unwrap();
}

/// A CA and a server certificate for 127.0.0.1, made with the openssl command.
fn certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl command is needed for the TLS test");
        assert!(status.success(), "openssl {args:?}");
    };
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=cairn-test-ca",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    ]);
}

#[tokio::test]
async fn tls_comes_from_configuration() {
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let path = |name: &str| certs.path().join(name).display().to_string();
    let server =
        NatsServer::start_with(&["--tls", "--tlscert", &path("server.pem"), "--tlskey", &path("server.key")])
            .await;
    let url = format!("tls://127.0.0.1:{}", server.port());

    let untrusted = nats_config_with(&url, &[("CAIRN__NATS__REQUIRE_TLS", "true")]);
    assert!(
        Bus::connect(&untrusted, ServiceKind::Monitor, Metrics::new("t")).await.is_err(),
        "an unknown CA is refused"
    );

    let ca = path("ca.pem");
    let trusted =
        nats_config_with(&url, &[("CAIRN__NATS__REQUIRE_TLS", "true"), ("CAIRN__NATS__TLS_CA_FILE", &ca)]);
    let bus = Bus::connect(&trusted, ServiceKind::Monitor, Metrics::new("t")).await.unwrap();
    bus.ensure_topology().await.unwrap();
    bus.publish(&event("over_tls")).await.unwrap();
}

#[tokio::test]
async fn credentials_come_from_configuration() {
    let server = NatsServer::start_with(&["--user", "cairn", "--pass", "s3cret"]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cairn.toml");
    std::fs::write(&file, "").unwrap();
    let load = |password: &str| {
        let env = vec![
            ("CAIRN__NATS__URL".to_owned(), server.url()),
            ("CAIRN__NATS__CONNECT_TIMEOUT_SECS".to_owned(), "1".to_owned()),
            ("CAIRN__NATS__USER".to_owned(), "cairn".to_owned()),
            ("CAIRN__NATS__PASSWORD".to_owned(), password.to_owned()),
        ];
        cairn_config::load_from(Some(&file), env).unwrap().nats
    };
    let refused = Bus::connect(&load("wrong"), ServiceKind::Registry, Metrics::new("t")).await;
    let error = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("cannot connect"), "{error}");
    assert!(!error.contains("wrong"), "the password is not echoed: {error}");
    let bus = Bus::connect(&load("s3cret"), ServiceKind::Registry, Metrics::new("t")).await.unwrap();
    bus.ensure_topology().await.unwrap();
}

#[tokio::test]
async fn key_value_buckets_work_on_every_supported_server() {
    let server = NatsServer::start().await;
    let bus = bus(&server).await;
    let kv = bus.create_kv_stream("cairn_test_kv", 1).await.unwrap();
    kv.put("customer.42", "v1".into()).await.unwrap();
    kv.put("customer.42", "v2".into()).await.unwrap();
    assert_eq!(kv.get("customer.42").await.unwrap().as_deref(), Some(&b"v2"[..]));
    assert_eq!(kv.get("customer.7").await.unwrap(), None);
    // Creating it again (every replica does at start) keeps the data.
    let again = bus.create_kv_stream("cairn_test_kv", 1).await.unwrap();
    assert_eq!(again.get("customer.42").await.unwrap().as_deref(), Some(&b"v2"[..]));
}

#[tokio::test]
async fn publish_many_stores_every_event_in_order() {
    let server = NatsServer::start().await;
    let bus = bus(&server).await;
    let events: Vec<_> = (0..600).map(|i| cairn_bus::RawEvent::new(&event(&format!("d{i}")))).collect();
    let published = bus.publish_many(&events).await.unwrap();
    let sequences: Vec<u64> = published.iter().map(|p| p.sequence).collect();
    assert_eq!(sequences, (1..=600).collect::<Vec<_>>());
    assert!(published.iter().zip(&events).all(|(p, e)| p.event_id == e.id && !p.duplicate));
    // A retry of the whole batch (after a crash before the outbox was cleared) stores nothing new.
    assert!(bus.publish_many(&events).await.unwrap().iter().all(|p| p.duplicate));
    let mut stream = bus.jetstream().get_stream("CAIRN_DATASETS").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 600);
}

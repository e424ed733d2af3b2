//! Batches imported from where they already are, and an offline store in S3-compatible storage.

use std::process::{Child, Command, Stdio};

use cairn_api::NewImport;
use cairn_client::ClientError;
use cairn_domain::ServiceKind;
use cairn_storage::OfflineStore;
use cairn_testkit::S3Server;
use object_store::ObjectStoreExt as _;
use sha2::{Digest as _, Sha256};

use crate::batches::{csv, dataset};
use crate::{Platform, Store};

fn import(url: &str) -> NewImport {
    NewImport { url: url.to_owned(), format: None }
}

fn code(error: ClientError) -> (u16, String) {
    let ClientError::Api { status, body } = error else { panic!("{error}") };
    (status, body.error.message)
}

#[tokio::test]
async fn an_offline_store_in_s3_takes_uploads_and_imports_from_buckets() {
    let s3 = S3Server::start();
    s3.create_bucket("lake");
    s3.create_bucket("incoming");
    let endpoint = s3.endpoint();
    let platform = Platform::start_with(
        Store::Sqlite,
        &[ServiceKind::Ingestion],
        &[
            ("CAIRN__STORAGE__OFFLINE_URL", "s3://lake/cairn"),
            ("CAIRN__STORAGE__S3__ENDPOINT", &endpoint),
            ("CAIRN__STORAGE__S3__REGION", "us-east-1"),
            ("CAIRN__STORAGE__S3__ACCESS_KEY_ID", "test"),
            ("CAIRN__STORAGE__S3__SECRET_ACCESS_KEY", "test"),
            ("CAIRN__STORAGE__S3__ALLOW_HTTP", "true"),
        ],
    )
    .await;
    let client = platform.client(ServiceKind::Ingestion);
    client.create_dataset(&dataset()).await.unwrap();

    // An upload lands in the bucket under the prefix, with the manifest's hashes.
    let (body, _) = csv(1000, 50);
    let first = client.ingest("payments", "text/csv", body).await.unwrap();
    assert_eq!(first.version, Some(1));
    let store = OfflineStore::from_config(&platform.config).unwrap();
    let mut rows = 0;
    for file in &first.files {
        let bytes = store.read(&file.path).await.unwrap();
        assert_eq!(cairn_storage::hex(&Sha256::digest(&bytes)), file.sha256);
        rows += store.read_batches(&file.path).await.unwrap().iter().map(|b| b.num_rows()).sum::<usize>();
    }
    assert_eq!(rows, 980);
    let lake = cairn_storage::s3_bucket("lake", &platform.config.storage.s3).unwrap();
    let listed = lake.head(&format!("cairn/{}", first.files[0].path).into()).await.unwrap();
    assert_eq!(listed.size, first.files[0].bytes, "under the configured prefix");
    let quarantined: Vec<cairn_api::QuarantinedRecord> =
        client.get("/v1/datasets/payments/quarantine?limit=1000").await.unwrap();
    assert_eq!(quarantined.len(), 20, "the quarantine reads back from the bucket");

    // A file already in a bucket is imported without passing through the client.
    let incoming = cairn_storage::s3_bucket("incoming", &platform.config.storage.s3).unwrap();
    let (body, _) = csv(300, 0);
    incoming.put(&"2026/03/day.csv".into(), body.into_bytes().into()).await.unwrap();
    let second = client.import("payments", &import("s3://incoming/2026/03/day.csv")).await.unwrap();
    assert_eq!((second.version, second.report.unwrap().rows_accepted), (Some(2), 300));
    assert_eq!(client.version("payments", 2).await.unwrap().rows, 1280);
    let (status, message) =
        code(client.import("payments", &import("s3://incoming/none.csv")).await.unwrap_err());
    assert_eq!(status, 422);
    assert!(message.contains("does not exist"), "{message}");
    platform.stop().await;
}

/// `python -m http.server` over `dir`, stopped when dropped.
struct HttpServer(Child, u16);

impl HttpServer {
    fn start(dir: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(cairn_testkit::python())
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Self(child, port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn imports_read_local_paths_only_under_the_import_roots_and_http_urls() {
    let files = tempfile::tempdir().unwrap();
    let root = files.path().join("imports");
    std::fs::create_dir_all(&root).unwrap();
    let (body, _) = csv(100, 0);
    std::fs::write(root.join("day.csv"), &body).unwrap();
    std::fs::write(files.path().join("secret.csv"), &body).unwrap();
    std::os::unix::fs::symlink(files.path().join("secret.csv"), root.join("link.csv")).unwrap();
    let jsonl: String =
        (0..10).map(|i| format!("{{\"id\": {i}, \"ts\": \"2026-03-01T00:00:0{i}Z\"}}\n")).collect();
    std::fs::write(root.join("day.jsonl"), jsonl).unwrap();
    std::fs::write(root.join("notes.txt"), "id,ts\n").unwrap();

    let roots = root.display().to_string();
    let platform = Platform::start_with(
        Store::Sqlite,
        &[ServiceKind::Ingestion],
        &[("CAIRN__INGESTION__IMPORT_ROOTS", &roots)],
    )
    .await;
    let client = platform.client(ServiceKind::Ingestion);
    client.create_dataset(&dataset()).await.unwrap();

    let url = |path: &std::path::Path| format!("file://{}", path.display());
    let batch = client.import("payments", &import(&url(&root.join("day.csv")))).await.unwrap();
    assert_eq!((batch.version, batch.format.as_str()), (Some(1), "csv"));

    let refused = [
        (url(&files.path().join("secret.csv")), 403),
        (url(&root.join("link.csv")), 403),
        (format!("{}/../secret.csv", url(&root)), 403),
        (url(&root.join("none.csv")), 422),
        ("ftp://example.com/day.csv".to_owned(), 422),
        (url(&root.join("notes.txt")), 415),
    ];
    for (source, status) in refused {
        let (got, message) = code(client.import("payments", &import(&source)).await.unwrap_err());
        assert_eq!(got, status, "{source}: {message}");
    }
    let unknown = client.import("nope", &import(&url(&root.join("day.csv")))).await.unwrap_err();
    assert_eq!(code(unknown).0, 404);

    // Over HTTP, the format from the extension or given explicitly.
    let server = HttpServer::start(&root);
    let base = format!("http://127.0.0.1:{}", server.1);
    let jsonl = client.import("payments", &import(&format!("{base}/day.jsonl"))).await.unwrap();
    assert_eq!((jsonl.version, jsonl.report.unwrap().rows_accepted), (Some(2), 10));
    let explicit = NewImport { url: format!("{base}/notes.txt"), format: Some("csv".into()) };
    let (status, message) = code(client.import("payments", &explicit).await.unwrap_err());
    assert_eq!(status, 422, "{message}");
    assert!(message.contains("no records"), "{message}");
    let (status, _) =
        code(client.import("payments", &import(&format!("{base}/none.csv"))).await.unwrap_err());
    assert_eq!(status, 422);
    platform.stop().await;
}

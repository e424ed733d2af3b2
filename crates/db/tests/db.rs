//! Every shared query, on SQLite and on PostgreSQL.

#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

use cairn_db::outbox::{self, OutboxEvent};
use cairn_db::{Backend, Database, DbError, inbox};
use cairn_testkit::TestDb;
use diesel::connection::SimpleConnection as _;

async fn connect(db: &TestDb) -> Database {
    Database::connect(db.url(), 4, "test", &[]).await.unwrap()
}

#[tokio::test]
async fn migrations_apply_once_and_readiness_reports_clean() {
    for test_db in TestDb::each() {
        let db = connect(&test_db).await;
        let expected = if test_db.backend() == "sqlite" { Backend::Sqlite } else { Backend::Postgres };
        assert_eq!(db.backend(), expected);
        assert!(db.readiness().await.is_empty(), "{}", test_db.backend());
        // A second start (another replica, a restart) finds nothing to do.
        let again = connect(&test_db).await;
        assert!(again.readiness().await.is_empty());
    }
}

#[tokio::test]
async fn the_inbox_applies_each_event_once_and_rolls_back_failed_effects() {
    for test_db in TestDb::each() {
        let db = connect(&test_db).await;
        db.run(|conn| Ok(conn.batch_execute("CREATE TABLE effects (n INTEGER NOT NULL)")?)).await.unwrap();
        let apply = |event: &'static str, fail: bool| {
            let db = db.clone();
            async move {
                db.run(move |conn| {
                    inbox::apply_once(conn, "test_consumer", event, |conn| {
                        conn.batch_execute("INSERT INTO effects (n) VALUES (1)")?;
                        if fail { Err(DbError::Migration("effect failed".into())) } else { Ok(7) }
                    })
                })
                .await
            }
        };
        assert!(apply("e1", true).await.is_err());
        assert_eq!(apply("e1", false).await.unwrap(), Some(7), "a failed attempt left no trace");
        assert_eq!(apply("e1", false).await.unwrap(), None, "{}: a duplicate is skipped", test_db.backend());
        assert_eq!(apply("e2", false).await.unwrap(), Some(7));
        let effects: i64 = db
            .run(|conn| {
                use diesel::prelude::*;
                #[derive(QueryableByName)]
                struct Count {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                let rows: Vec<Count> = diesel::sql_query("SELECT COUNT(*) AS n FROM effects").load(conn)?;
                Ok(rows.first().map_or(0, |row| row.n))
            })
            .await
            .unwrap();
        assert_eq!(effects, 2);
        let processed = db.run(|conn| inbox::processed_count(conn, "test_consumer")).await.unwrap();
        assert_eq!(processed, 2);
    }
}

#[tokio::test]
async fn the_outbox_keeps_events_in_order_until_removed() {
    for test_db in TestDb::each() {
        let db = connect(&test_db).await;
        let event = |id: &str, at: i64| OutboxEvent {
            event_id: id.into(),
            subject: "cairn.datasets.created".into(),
            event_type: "cairn.events.v1.DatasetCreated".into(),
            payload: vec![0, 159, 146, 150, 255],
            traceparent: (at == 2).then(|| "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            created_at: at,
        };
        let (second, first) = (event("b", 2), event("a", 1));
        let rows = [second.clone(), first.clone()];
        db.run(move |conn| rows.iter().try_for_each(|row| outbox::enqueue(conn, row))).await.unwrap();
        let pending = db.run(|conn| outbox::oldest(conn, 10)).await.unwrap();
        assert_eq!(pending, vec![first, second.clone()], "{}", test_db.backend());
        db.run(|conn| outbox::remove(conn, &["a".to_owned()])).await.unwrap();
        let pending = db.run(|conn| outbox::oldest(conn, 10)).await.unwrap();
        assert_eq!(pending, vec![second]);
    }
}

#[tokio::test]
async fn services_sharing_a_postgres_database_keep_separate_schemas() {
    let shared = TestDb::postgres();
    let a = Database::connect(shared.url(), 2, "svc_a", &[]).await.unwrap();
    let b = Database::connect(shared.url(), 2, "svc_b", &[]).await.unwrap();
    let row = OutboxEvent {
        event_id: "only-in-a".into(),
        subject: "cairn.datasets.created".into(),
        event_type: "t".into(),
        payload: vec![],
        traceparent: None,
        created_at: 1,
    };
    a.run(move |conn| outbox::enqueue(conn, &row)).await.unwrap();
    assert_eq!(a.run(|conn| outbox::oldest(conn, 10)).await.unwrap().len(), 1);
    assert!(b.run(|conn| outbox::oldest(conn, 10)).await.unwrap().is_empty());
    assert!(matches!(
        Database::connect(shared.url(), 1, "bad\"name", &[]).await,
        Err(DbError::InvalidNamespace(_))
    ));
}

#[tokio::test]
async fn bad_urls_are_refused() {
    for url in ["mysql://x", "", "sqlite://"] {
        assert!(matches!(Database::connect(url, 1, "test", &[]).await, Err(DbError::InvalidUrl)), "{url}");
    }
}

/// Statements built at run time bind the same way on both backends, including a text set with
/// characters JSON must escape.
#[tokio::test]
async fn run_time_statements_bind_values_and_text_sets() {
    use cairn_db::Sql;
    use diesel::QueryableByName;
    use diesel::sql_types::{BigInt, Text};

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    for test_db in TestDb::each() {
        let db = connect(&test_db).await;
        let backend = db.backend();
        let names = [
            "plain",
            "quote\"d",
            "back\\slash",
            "new\nline",
            "ünïcode",
            "it's",
            "a,b",
            "{braced}",
            "NULL",
            " padded ",
        ];
        let found = db
            .run(move |conn| {
                conn.batch_execute("CREATE TABLE items (name TEXT NOT NULL, n BIGINT NOT NULL)")?;
                for (i, name) in names.iter().enumerate() {
                    let mut insert = Sql::new(backend);
                    insert
                        .push("INSERT INTO items (name, n) VALUES (")
                        .bind(*name)
                        .push(", ")
                        .bind(i as i64)
                        .push(")");
                    insert.execute(conn)?;
                }
                let mut select = Sql::new(backend);
                select
                    .push("SELECT name, n FROM items WHERE ")
                    .in_text_set("name", names.iter().skip(1).map(|name| (*name).to_owned()))
                    .push(" AND n >= ")
                    .bind(0i64)
                    .push(" ORDER BY n");
                Ok(select.load::<Row>(conn)?)
            })
            .await
            .unwrap();
        let found: Vec<(String, i64)> = found.into_iter().map(|row| (row.name, row.n)).collect();
        let expected: Vec<(String, i64)> =
            names.iter().enumerate().skip(1).map(|(i, name)| ((*name).to_owned(), i as i64)).collect();
        assert_eq!(found, expected, "{}", test_db.backend());
    }
}

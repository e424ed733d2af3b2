//! Every service's migrations are written twice, once per SQL dialect: both backends must end
//! with the same tables, columns (types mapped between the dialects), primary keys, indexes and
//! foreign keys, or code tested on one breaks on the other.

use std::collections::BTreeSet;

use cairn_db::{AnyConnection, Database, DbError, Migrations};
use cairn_domain::ServiceKind;
use cairn_testkit::TestDb;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl as _, sql_query};

#[tokio::test]
async fn sqlite_and_postgres_migrations_agree() {
    let services = [
        (ServiceKind::Ingestion, cairn_ingestion::MIGRATIONS),
        (ServiceKind::FeatureStore, cairn_feature_store::MIGRATIONS),
        (ServiceKind::Registry, cairn_registry::MIGRATIONS),
        (ServiceKind::Training, cairn_training::MIGRATIONS),
        (ServiceKind::Serving, cairn_serving::MIGRATIONS),
        (ServiceKind::Monitor, cairn_monitor::MIGRATIONS),
    ];
    let mut disagreements = Vec::new();
    for (kind, migrations) in services {
        let [sqlite, postgres] = TestDb::each();
        let on_sqlite = shape(&sqlite, kind, migrations).await;
        let mut on_postgres = shape(&postgres, kind, migrations).await;
        for (sqlite_line, postgres_line) in EQUIVALENT {
            if on_sqlite.contains(*sqlite_line) && on_postgres.remove(*postgres_line) {
                on_postgres.insert((*sqlite_line).to_owned());
            }
        }
        assert!(on_sqlite.iter().any(|line| line.starts_with("column ")), "{kind}: no tables read");
        disagreements
            .extend(on_sqlite.difference(&on_postgres).map(|line| format!("{kind}, SQLite only: {line}")));
        disagreements.extend(
            on_postgres.difference(&on_sqlite).map(|line| format!("{kind}, PostgreSQL only: {line}")),
        );
    }
    assert!(disagreements.is_empty(), "the backends' schemas differ:\n{}", disagreements.join("\n"));
}

/// Covering indexes, written in each dialect's way: PostgreSQL carries extra columns with
/// INCLUDE; SQLite has them as trailing key columns, or from a WITHOUT ROWID table, whose
/// indexes hold its primary key (`latest_metrics` is one).
const EQUIVALENT: &[(&str, &str)] = &[
    (
        "index runs(experiment_id,start_time,run_uuid,lifecycle_stage)",
        "index runs(experiment_id,start_time,run_uuid) include(lifecycle_stage)",
    ),
    ("index latest_metrics(key,value)", "index latest_metrics(key,value) include(run_uuid,is_nan)"),
];

/// The schema as comparable lines: `column t.c type [null]`, `primary key t(c,…)`,
/// `[unique] index t(c,…)`, `foreign key t(c,…) -> r(c,…)`.
async fn shape(db: &TestDb, kind: ServiceKind, migrations: Migrations) -> BTreeSet<String> {
    let database = Database::connect(db.url(), 2, kind.config_key(), &[migrations]).await.unwrap();
    let namespace = kind.config_key().to_owned();
    database
        .run(move |conn| {
            Ok(match conn {
                AnyConnection::Sqlite(conn) => sqlite_shape(conn)?,
                AnyConnection::Postgresql(conn) => postgres_shape(conn, &namespace)?,
            })
        })
        .await
        .unwrap()
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
    /// Position in the primary key, 0 when not part of it.
    #[diesel(sql_type = BigInt)]
    key: i64,
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Bool)]
    unique: bool,
    #[diesel(sql_type = Nullable<Text>)]
    columns: Option<String>,
    /// PostgreSQL's INCLUDE columns.
    #[diesel(sql_type = Nullable<Text>)]
    covering: Option<String>,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = Text)]
    ref_table: String,
    #[diesel(sql_type = Nullable<Text>)]
    ref_columns: Option<String>,
}

/// Migration bookkeeping, not the services' schema.
fn is_bookkeeping(table: &str) -> bool {
    table == "__diesel_schema_migrations" || table.starts_with("sqlite_")
}

/// SQLite's declared type and PostgreSQL's `data_type` to one name. An `INTEGER PRIMARY KEY`
/// is SQLite's 64-bit rowid, PostgreSQL's `BIGSERIAL`.
fn family(data_type: &str, key: bool) -> String {
    match data_type.to_ascii_lowercase().as_str() {
        "text" => "text",
        "bigint" => "int64",
        "integer" if key => "int64",
        "integer" => "int32",
        "real" | "double" | "double precision" => "float64",
        "boolean" => "bool",
        "blob" | "bytea" => "bytes",
        other => return format!("unmapped type {other}"),
    }
    .to_owned()
}

fn lines(columns: Vec<Column>, indexes: Vec<Index>, foreign_keys: Vec<ForeignKey>) -> BTreeSet<String> {
    let mut shape = BTreeSet::new();
    let mut keys: Vec<(String, i64, String)> = Vec::new();
    for column in columns.into_iter().filter(|c| !is_bookkeeping(&c.table_name)) {
        let key = column.key > 0;
        // SQLite lets a TEXT PRIMARY KEY hold NULL unless declared NOT NULL; neither backend's
        // code ever writes one, so key columns count as NOT NULL on both.
        let null = if column.nullable && !key { " null" } else { "" };
        let family = family(&column.data_type, key);
        shape.insert(format!("column {}.{} {family}{null}", column.table_name, column.column_name));
        if key {
            keys.push((column.table_name, column.key, column.column_name));
        }
    }
    keys.sort();
    let mut tables: Vec<&str> = keys.iter().map(|(table, ..)| table.as_str()).collect();
    tables.dedup();
    let mut primary_keys = std::collections::BTreeMap::new();
    for table in tables {
        let columns: Vec<&str> =
            keys.iter().filter(|(t, ..)| t == table).map(|(.., column)| column.as_str()).collect();
        shape.insert(format!("primary key {table}({})", columns.join(",")));
        primary_keys.insert(table.to_owned(), columns.join(","));
    }
    for index in indexes.into_iter().filter(|i| !is_bookkeeping(&i.table_name)) {
        let unique = if index.unique { "unique " } else { "" };
        let columns = index.columns.unwrap_or_else(|| "an expression".into());
        let covering = index.covering.map(|columns| format!(" include({columns})")).unwrap_or_default();
        shape.insert(format!("{unique}index {}({columns}){covering}", index.table_name));
    }
    for key in foreign_keys {
        // SQLite's `REFERENCES t` without columns means t's primary key.
        let refs = key.ref_columns.or_else(|| primary_keys.get(&key.ref_table).cloned()).unwrap_or_default();
        shape.insert(format!("foreign key {}({}) -> {}({refs})", key.table_name, key.columns, key.ref_table));
    }
    shape
}

fn sqlite_shape(conn: &mut diesel::SqliteConnection) -> Result<BTreeSet<String>, DbError> {
    let columns = sql_query(
        "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
                p.\"notnull\" = 0 AS nullable, p.pk AS key \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'",
    )
    .load::<Column>(conn)?;
    // Indexes behind a primary key are compared as the key itself. (A WITHOUT ROWID table's
    // indexes carry its key; PostgreSQL's say so with INCLUDE: only key columns are compared.)
    let indexes = sql_query(
        "SELECT m.name AS table_name, l.\"unique\" = 1 AS \"unique\", \
                (SELECT group_concat(name, ',') FROM \
                    (SELECT i.name FROM pragma_index_info(l.name) i ORDER BY i.seqno)) AS columns, \
                NULL AS covering \
         FROM sqlite_master m JOIN pragma_index_list(m.name) l \
         WHERE m.type = 'table' AND l.origin != 'pk'",
    )
    .load::<Index>(conn)?;
    let foreign_keys = sql_query(
        "SELECT m.name AS table_name, group_concat(f.\"from\", ',') AS columns, f.\"table\" AS ref_table, \
                group_concat(f.\"to\", ',') AS ref_columns \
         FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table' GROUP BY m.name, f.id",
    )
    .load::<ForeignKey>(conn)?;
    Ok(lines(columns, indexes, foreign_keys))
}

fn postgres_shape(conn: &mut diesel::PgConnection, namespace: &str) -> Result<BTreeSet<String>, DbError> {
    let columns = sql_query(
        "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
                c.data_type::text AS data_type, c.is_nullable = 'YES' AS nullable, \
                COALESCE(k.ordinal_position, 0)::bigint AS key \
         FROM information_schema.columns c \
         LEFT JOIN information_schema.table_constraints t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
          AND t.constraint_type = 'PRIMARY KEY' \
         LEFT JOIN information_schema.key_column_usage k \
           ON k.constraint_schema = t.constraint_schema AND k.constraint_name = t.constraint_name \
          AND k.column_name = c.column_name \
         WHERE c.table_schema = $1",
    )
    .bind::<Text, _>(namespace)
    .load::<Column>(conn)?;
    let indexes = sql_query(
        "SELECT t.relname::text AS table_name, x.indisunique AS \"unique\", \
                (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
                 FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                 WHERE k.n <= x.indnkeyatts) AS columns, \
                (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
                 FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                 WHERE k.n > x.indnkeyatts) AS covering \
         FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace s ON s.oid = t.relnamespace \
         WHERE s.nspname = $1 AND NOT x.indisprimary",
    )
    .bind::<Text, _>(namespace)
    .load::<Index>(conn)?;
    let foreign_keys = sql_query(
        "SELECT t.relname::text AS table_name, r.relname::text AS ref_table, \
                (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
                 FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns, \
                (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
                 FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n) \
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS ref_columns \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace s ON s.oid = t.relnamespace \
         WHERE c.contype = 'f' AND s.nspname = $1",
    )
    .bind::<Text, _>(namespace)
    .load::<ForeignKey>(conn)?;
    Ok(lines(columns, indexes, foreign_keys))
}

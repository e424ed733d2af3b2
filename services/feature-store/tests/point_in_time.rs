//! Historical retrieval against a reference: for every entity row and view, scan every view row
//! and keep the latest that qualifies. Random data with ties on event time (and on both times),
//! TTL boundaries, entities without features, null keys and values, duplicate entity rows, and
//! two views with different entities and timestamp units.
#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use cairn_feature_store::point_in_time::{
    JoinError, ViewFiles, ViewRows, ViewSpec, point_in_time_join, point_in_time_join_files, read_parquet,
    write_parquet,
};
use proptest::prelude::*;

const SECOND: i64 = 1_000_000;

#[derive(Debug, Clone)]
struct Entity {
    customer: Option<i64>,
    merchant: Option<String>,
    /// Seconds.
    at: i64,
}

/// A row of view `spend` (keyed by customer; times in seconds, with a created time).
#[derive(Debug, Clone)]
struct Spend {
    customer: Option<i64>,
    event: Option<i64>,
    created: Option<i64>,
    amount: Option<f64>,
}

/// A row of view `labels` (keyed by customer and merchant; times in milliseconds, no created
/// time).
#[derive(Debug, Clone)]
struct Label {
    customer: Option<i64>,
    merchant: Option<String>,
    event_millis: i64,
    label: Option<String>,
}

fn customer() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![1 => Just(None), 8 => (0i64..4).prop_map(Some)]
}

fn merchant() -> impl Strategy<Value = Option<String>> {
    prop_oneof![1 => Just(None), 8 => (0..3).prop_map(|m| Some(format!("m{m}")))]
}

fn entities() -> impl Strategy<Value = Vec<Entity>> {
    prop::collection::vec(
        (customer(), merchant(), 0i64..12).prop_map(|(customer, merchant, at)| Entity {
            customer,
            merchant,
            at,
        }),
        0..30,
    )
    // Duplicate entity rows: every row again, sometimes.
    .prop_flat_map(|rows| (Just(rows), any::<bool>()))
    .prop_map(|(mut rows, twice)| {
        if twice {
            rows.extend(rows.clone());
        }
        rows
    })
}

fn spends() -> impl Strategy<Value = Vec<Spend>> {
    prop::collection::vec(
        (
            customer(),
            prop_oneof![1 => Just(None), 10 => (0i64..12).prop_map(Some)],
            prop_oneof![1 => Just(None), 4 => (0i64..3).prop_map(Some)],
            prop_oneof![1 => Just(None), 4 => (0..100).prop_map(|v| Some(f64::from(v) / 4.0))],
        )
            .prop_map(|(customer, event, created, amount)| Spend {
                customer,
                event,
                created,
                amount,
            }),
        0..40,
    )
}

fn labels() -> impl Strategy<Value = Vec<Label>> {
    prop::collection::vec(
        (customer(), merchant(), 0i64..12, prop_oneof![1 => Just(None), 4 => "[a-c]{1,2}".prop_map(Some)])
            .prop_map(|(customer, merchant, seconds, label)| Label {
                customer,
                merchant,
                event_millis: seconds * 1000,
                label,
            }),
        0..40,
    )
}

fn ttl() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![Just(None), (0i64..5).prop_map(|s| Some(s * SECOND))]
}

fn entity_batch(rows: &[Entity]) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("customer", DataType::Int64, true),
        Field::new("merchant", DataType::Utf8, true),
        Field::new("event_timestamp", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|r| r.customer).collect::<Int64Array>()),
        Arc::new(rows.iter().map(|r| r.merchant.clone()).collect::<StringArray>()),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.at * SECOND))
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

fn spend_view(rows: &[Spend], ttl_micros: Option<i64>) -> ViewRows {
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer", DataType::Int64, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Second, None), true),
        Field::new("created", DataType::Timestamp(TimeUnit::Second, None), true),
        Field::new("amount", DataType::Float64, true),
    ]));
    // Split in two batches, to join over several.
    let half = rows.len() / 2;
    let batches = [&rows[..half], &rows[half..]]
        .into_iter()
        .map(|part| {
            let columns: Vec<ArrayRef> = vec![
                Arc::new(part.iter().map(|r| r.customer).collect::<Int64Array>()),
                Arc::new(part.iter().map(|r| r.event).collect::<TimestampSecondArray>()),
                Arc::new(part.iter().map(|r| r.created).collect::<TimestampSecondArray>()),
                Arc::new(part.iter().map(|r| r.amount).collect::<Float64Array>()),
            ];
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        })
        .collect();
    ViewRows {
        spec: ViewSpec {
            name: "spend".into(),
            join_keys: vec!["customer".into()],
            features: vec!["amount".into()],
            event_timestamp: "ts".into(),
            created_timestamp: Some("created".into()),
            ttl_micros,
        },
        schema,
        batches,
    }
}

fn label_view(rows: &[Label], ttl_micros: Option<i64>) -> ViewRows {
    let schema = Arc::new(Schema::new(vec![
        Field::new("merchant", DataType::Utf8, true),
        Field::new("customer", DataType::Int64, true),
        Field::new("label", DataType::Utf8, true),
        Field::new("at", DataType::Timestamp(TimeUnit::Millisecond, None), false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|r| r.merchant.clone()).collect::<StringArray>()),
        Arc::new(rows.iter().map(|r| r.customer).collect::<Int64Array>()),
        Arc::new(rows.iter().map(|r| r.label.clone()).collect::<StringArray>()),
        Arc::new(rows.iter().map(|r| Some(r.event_millis)).collect::<TimestampMillisecondArray>()),
    ];
    ViewRows {
        spec: ViewSpec {
            name: "labels".into(),
            join_keys: vec!["customer".into(), "merchant".into()],
            features: vec!["label".into()],
            event_timestamp: "at".into(),
            created_timestamp: None,
            ttl_micros,
        },
        schema: schema.clone(),
        batches: vec![RecordBatch::try_new(schema, columns).unwrap()],
    }
}

/// `view`'s batches written as Parquet files under `dir`, one each.
fn files_of(dir: &std::path::Path, view: &ViewRows) -> Vec<std::path::PathBuf> {
    view.batches
        .iter()
        .enumerate()
        .map(|(i, batch)| {
            let path = dir.join(format!("{}-{i}.parquet", view.spec.name));
            write_parquet(batch, &path).unwrap();
            path
        })
        .collect()
}

/// The reference: of the rows that qualify, the greatest by (event, created, position).
fn reference<R>(
    rows: &[R],
    at_micros: i64,
    ttl: Option<i64>,
    qualifies: impl Fn(&R) -> bool,
    times: impl Fn(&R) -> Option<(i64, i64)>,
) -> Option<usize> {
    rows.iter()
        .enumerate()
        .filter(|(_, row)| qualifies(row))
        .filter_map(|(i, row)| times(row).map(|(event, created)| (event, created, i)))
        .filter(|(event, _, _)| *event <= at_micros && ttl.is_none_or(|ttl| *event >= at_micros - ttl))
        .max()
        .map(|(_, _, i)| i)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_reference(
        entities in entities(),
        spends in spends(),
        labels in labels(),
        spend_ttl in ttl(),
        label_ttl in ttl(),
        full_names in any::<bool>(),
    ) {
        let views = [spend_view(&spends, spend_ttl), label_view(&labels, label_ttl)];
        let joined = point_in_time_join(&entity_batch(&entities), "event_timestamp", &views, full_names).unwrap();
        // The same views as Parquet files (a file per batch): the same answer.
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<ViewFiles> = views
            .iter()
            .map(|view| ViewFiles { spec: view.spec.clone(), paths: files_of(dir.path(), view) })
            .collect();
        let from_files =
            point_in_time_join_files(&entity_batch(&entities), "event_timestamp", &files, full_names).unwrap();
        prop_assert_eq!(&from_files, &joined);
        let (amount_name, label_name) = if full_names { ("spend__amount", "labels__label") } else { ("amount", "label") };
        let schema = joined.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        prop_assert_eq!(names, vec!["customer", "merchant", "event_timestamp", amount_name, label_name]);
        prop_assert_eq!(joined.num_rows(), entities.len());
        let amounts = joined.column(3).as_primitive::<Float64Type>();
        let found_labels = joined.column(4).as_string::<i32>();
        for (i, entity) in entities.iter().enumerate() {
            let at = entity.at * SECOND;
            let spend = reference(
                &spends,
                at,
                spend_ttl,
                |row| entity.customer.is_some() && row.customer == entity.customer,
                |row| row.event.map(|event| (event * SECOND, row.created.map_or(i64::MIN, |c| c * SECOND))),
            );
            let expected = spend.and_then(|j| spends[j].amount);
            let got = (!amounts.is_null(i)).then(|| amounts.value(i));
            prop_assert_eq!(got, expected, "entity row {} {:?}: spend row {:?}", i, entity, spend);

            let label = reference(
                &labels,
                at,
                label_ttl,
                |row| {
                    entity.customer.is_some()
                        && entity.merchant.is_some()
                        && row.customer == entity.customer
                        && row.merchant == entity.merchant
                },
                |row| Some((row.event_millis * 1000, i64::MIN)),
            );
            let expected = label.and_then(|j| labels[j].label.clone());
            let got = (!found_labels.is_null(i)).then(|| found_labels.value(i).to_owned());
            prop_assert_eq!(got, expected, "entity row {} {:?}: label row {:?}", i, entity, label);
        }
    }
}

#[test]
fn the_ttl_boundary_is_inclusive_and_a_later_row_never_leaks_back() {
    let spends = [
        Spend { customer: Some(1), event: Some(10), created: Some(0), amount: Some(1.0) },
        Spend { customer: Some(1), event: Some(10), created: Some(2), amount: Some(2.0) },
        Spend { customer: Some(1), event: Some(20), created: Some(0), amount: Some(3.0) },
    ];
    let entities = [
        Entity { customer: Some(1), merchant: None, at: 9 }, // before any row
        Entity { customer: Some(1), merchant: None, at: 10 }, // at the event: the later created wins
        Entity { customer: Some(1), merchant: None, at: 15 }, // exactly at the TTL's edge
        Entity { customer: Some(1), merchant: None, at: 16 }, // just past it
        Entity { customer: Some(1), merchant: None, at: 20 },
        Entity { customer: Some(2), merchant: None, at: 20 }, // no rows for this entity
    ];
    let joined = point_in_time_join(
        &entity_batch(&entities),
        "event_timestamp",
        &[spend_view(&spends, Some(5 * SECOND))],
        true,
    )
    .unwrap();
    let amounts: Vec<Option<f64>> = joined.column(3).as_primitive::<Float64Type>().iter().collect();
    assert_eq!(amounts, [None, Some(2.0), Some(2.0), None, Some(3.0), None]);
}

#[test]
fn clashing_names_and_missing_columns_are_named() {
    let entities = entity_batch(&[Entity { customer: Some(1), merchant: None, at: 1 }]);
    let mut twice = spend_view(&[], None);
    twice.spec.name = "spend_again".into();
    let error =
        point_in_time_join(&entities, "event_timestamp", &[spend_view(&[], None), twice.clone()], false);
    assert_eq!(error.unwrap_err(), JoinError::DuplicateName("amount".into()));
    let both =
        point_in_time_join(&entities, "event_timestamp", &[spend_view(&[], None), twice.clone()], true)
            .unwrap();
    assert_eq!(both.schema().field(4).name(), "spend_again__amount");

    twice.spec.features = vec!["nope".into()];
    let error = point_in_time_join(&entities, "event_timestamp", &[twice], true).unwrap_err();
    assert_eq!(error, JoinError::MissingColumn("view `spend_again`".into(), "nope".into()));
    let error = point_in_time_join(&entities, "when", &[], true).unwrap_err();
    assert_eq!(error, JoinError::MissingColumn("the entity rows".into(), "when".into()));
    let error = point_in_time_join(&entities, "customer", &[], true).unwrap_err();
    assert!(matches!(error, JoinError::NotATimestamp { .. }), "{error}");
}

#[test]
fn parquet_files_are_read_by_column_across_files_and_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let spends: Vec<Spend> = (0..300)
        .map(|i| Spend { customer: Some(i % 7), event: Some(i), created: None, amount: Some(i as f64) })
        .collect();
    let view = spend_view(&spends, None);
    let paths = files_of(dir.path(), &view);
    let (schema, batches) = read_parquet(&paths, Some(&["amount", "customer"])).unwrap();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["customer", "amount"], "in the file's order");
    let amounts: Vec<f64> = batches
        .iter()
        .flat_map(|b| b.column(1).as_primitive::<Float64Type>().iter().flatten().collect::<Vec<_>>())
        .collect();
    assert_eq!(amounts, (0..300).map(f64::from).collect::<Vec<_>>(), "every row, in file order");
    let error = read_parquet(&paths, Some(&["tip"])).unwrap_err();
    assert!(matches!(error, JoinError::MissingColumn(_, ref column) if column == "tip"), "{error}");
    std::fs::write(dir.path().join("broken.parquet"), b"PAR1 not really").unwrap();
    let error = read_parquet(&[dir.path().join("broken.parquet")], None).unwrap_err();
    assert!(
        error.to_string().starts_with(&dir.path().join("broken.parquet").display().to_string()),
        "{error}"
    );
}

#[test]
fn a_file_written_before_a_feature_was_added_reads_as_nulls() {
    let spend = |customer, event, amount| Spend {
        customer: Some(customer),
        event: Some(event),
        created: None,
        amount,
    };
    // The first batch's rows (older) were written before `amount` existed.
    let rows =
        [spend(1, 10, Some(1.0)), spend(2, 10, Some(2.0)), spend(1, 20, Some(3.0)), spend(3, 20, Some(4.0))];
    let view = spend_view(&rows, None);
    let dir = tempfile::tempdir().unwrap();
    let old = view.batches[0].project(&[0, 1, 2]).unwrap();
    let (old_path, new_path) = (dir.path().join("old.parquet"), dir.path().join("new.parquet"));
    write_parquet(&old, &old_path).unwrap();
    write_parquet(&view.batches[1], &new_path).unwrap();

    let mut nulled = view.clone();
    let amounts: ArrayRef = Arc::new(Float64Array::from(vec![None::<f64>; old.num_rows()]));
    let mut columns = old.columns().to_vec();
    columns.push(amounts);
    nulled.batches[0] = RecordBatch::try_new(view.schema.clone(), columns).unwrap();

    let entities = entity_batch(&[(1, 15), (2, 15), (1, 25), (3, 25), (3, 5)].map(|(customer, at)| Entity {
        customer: Some(customer),
        merchant: None,
        at,
    }));
    let expected = point_in_time_join(&entities, "event_timestamp", &[nulled], false).unwrap();
    let files = ViewFiles { spec: view.spec.clone(), paths: vec![old_path.clone(), new_path.clone()] };
    let joined = point_in_time_join_files(&entities, "event_timestamp", &[files], false).unwrap();
    let amount = joined.column_by_name("amount").unwrap().as_primitive::<Float64Type>();
    assert_eq!(amount.iter().collect::<Vec<_>>(), [None, None, Some(3.0), Some(4.0), None]);
    assert_eq!(
        format!("{:?}", joined.column_by_name("amount").unwrap()),
        format!("{:?}", expected.column_by_name("amount").unwrap())
    );
    // A column no file has is still an error.
    let mut missing = view.spec.clone();
    missing.features = vec!["nope".into()];
    let error = point_in_time_join_files(
        &entities,
        "event_timestamp",
        &[ViewFiles { spec: missing, paths: vec![old_path, new_path] }],
        false,
    )
    .unwrap_err();
    assert!(matches!(error, JoinError::MissingColumn(_, ref column) if column == "nope"), "{error}");
}

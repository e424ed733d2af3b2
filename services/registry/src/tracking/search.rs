//! Run search: MLflow filters and orderings turned into one SQL statement over the run table
//! (driven by the first metric clause's latest values when there is one), with `EXISTS`
//! subqueries for the other clauses on the latest metrics, parameters and tags (all indexed by
//! run and key), then the page's parameters, tags and metrics read side by side.

use cairn_db::{Backend, Database, Sql};

use super::experiments::parse_id;
use super::filter::{self, Clause, Entity, FilterError, Op, Value};
use super::{Page, Run, TrackingError, ViewType, page_offset, page_size, push_page, runs, split_page};

#[derive(Debug, Clone, Default)]
pub struct RunSearch {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    pub view: ViewType,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

pub async fn search_runs(db: &Database, search: RunSearch) -> Result<Page<Run>, TrackingError> {
    let backend = db.backend();
    let experiments = search.experiment_ids.iter().map(|id| parse_id(id)).collect::<Result<Vec<_>, _>>()?;
    let clauses = filter::parse_filter(&search.filter)?;
    let offset = page_offset(search.page_token.as_deref())?;
    let limit = page_size(search.max_results, 1000)?;
    if experiments.is_empty() {
        return Ok(Page { items: Vec::new(), next_page_token: None });
    }

    // The first metric clause, if any, drives the search: that metric's latest values are read
    // in the runs' order (newest first) from an index that carries each run's experiment and
    // start time, so a page of matches is found without visiting every run or every match.
    let driver = clauses.iter().position(|clause| clause.key.entity == Entity::Metric);
    let mut sql = Sql::new(backend);
    sql.push("SELECT ").push(&runs::aliased_columns()).push(match driver {
        Some(_) => " FROM latest_metrics d JOIN runs r ON r.run_uuid = d.run_uuid",
        None => " FROM runs r",
    });
    // Orderings by metric, parameter or tag join that key's value (runs without it sort last).
    let mut order = Vec::new();
    for (i, text) in search.order_by.iter().enumerate() {
        let by = filter::parse_order_by(text)?;
        let direction = if by.ascending { "ASC" } else { "DESC" };
        let table = match by.key.entity {
            Entity::Attribute => {
                let (column, _) = run_attribute(&by.key.name, by.position)?;
                order.push(format!("{column} {direction}"));
                continue;
            }
            Entity::Metric => "latest_metrics",
            Entity::Param => "params",
            Entity::Tag => "tags",
            Entity::Dataset => {
                return Err(FilterError::at(by.position, "runs cannot be ordered by datasets").into());
            }
        };
        let alias = format!("o{i}");
        sql.push(&format!(" LEFT JOIN {table} {alias} ON {alias}.run_uuid = r.run_uuid AND {alias}.key = "))
            .bind(by.key.name.clone());
        let missing = if by.key.entity == Entity::Metric {
            format!("{alias}.value IS NULL OR {alias}.is_nan")
        } else {
            format!("{alias}.value IS NULL")
        };
        order.push(format!("CASE WHEN {missing} THEN 1 ELSE 0 END, {alias}.value {direction}"));
    }
    sql.push(" WHERE r.experiment_id IN ")
        .bind_list(experiments.iter().copied())
        .push(" AND r.lifecycle_stage IN ")
        .bind_list(search.view.stages().iter().copied());
    if let Some(driver) = driver {
        sql.push(" AND d.experiment_id IN ").bind_list(experiments).push(" AND ");
        push_metric_comparison(&mut sql, "d", &clauses[driver])?;
    }
    for (i, clause) in clauses.iter().enumerate() {
        if Some(i) == driver {
            continue;
        }
        sql.push(" AND ");
        match clause.key.entity {
            Entity::Metric => {
                sql.push("EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND ");
                push_metric_comparison(&mut sql, "m", clause)?;
                sql.push(")");
            }
            Entity::Param => push_tag_clause(&mut sql, "params", "run_uuid", "r.run_uuid", clause, false)?,
            Entity::Tag => push_tag_clause(&mut sql, "tags", "run_uuid", "r.run_uuid", clause, false)?,
            Entity::Attribute => {
                let (column, numeric) = run_attribute(&clause.key.name, clause.position)?;
                push_comparison(&mut sql, column, clause, numeric)?;
            }
            Entity::Dataset => {
                return Err(FilterError::at(
                    clause.position,
                    "filtering runs by dataset inputs is not supported",
                )
                .into());
            }
        }
    }
    let table = if driver.is_some() { "d" } else { "r" };
    order.push(format!("{table}.start_time DESC"));
    order.push(format!("{table}.run_uuid ASC"));
    push_page(&mut sql, &order, offset, limit);

    let rows = db.call(move |conn| sql.load::<runs::RunRow>(conn).map_err(TrackingError::from)).await?;
    let (rows, next_page_token) = split_page(rows, offset, limit);
    Ok(Page { items: runs::with_details_concurrently(db, rows).await?, next_page_token })
}

/// `{table}.key = … AND NOT {table}.is_nan AND {table}.value op …` on `latest_metrics`.
fn push_metric_comparison(sql: &mut Sql, table: &str, clause: &Clause) -> Result<(), TrackingError> {
    if !clause.op.is_numeric() || !matches!(clause.value, Value::Number(_)) {
        return Err(FilterError::at(
            clause.position,
            format!("metric `{}` must be compared (=, !=, >, >=, <, <=) with a number", clause.key.name),
        )
        .into());
    }
    sql.push(&format!("{table}.key = "))
        .bind(clause.key.name.clone())
        .push(&format!(" AND NOT {table}.is_nan AND "));
    push_comparison(sql, &format!("{table}.value"), clause, true)
}

/// A run attribute's column, and whether it holds numbers.
fn run_attribute(name: &str, position: usize) -> Result<(&'static str, bool), TrackingError> {
    Ok(match name {
        "run_id" | "run_uuid" | "id" => ("r.run_uuid", false),
        "run_name" | "run name" | "name" => ("r.name", false),
        "status" => ("r.status", false),
        "user_id" => ("r.user_id", false),
        "artifact_uri" => ("r.artifact_uri", false),
        "lifecycle_stage" => ("r.lifecycle_stage", false),
        "start_time" | "created" | "Created" => ("r.start_time", true),
        "end_time" => ("r.end_time", true),
        other => {
            return Err(FilterError::at(
                position,
                format!(
                    "unknown run attribute `{other}` (run_id, run_name, status, user_id, artifact_uri, \
                     lifecycle_stage, start_time, end_time)"
                ),
            )
            .into());
        }
    })
}

/// `column op value`, checking that the value's type suits the column.
pub(crate) fn push_comparison(
    sql: &mut Sql,
    column: &str,
    clause: &Clause,
    numeric: bool,
) -> Result<(), TrackingError> {
    let mismatch = |expected: &str| -> TrackingError {
        FilterError::at(
            clause.position,
            format!("`{}` {} needs {expected}", clause.key.name, clause.op.sql()),
        )
        .into()
    };
    match (&clause.value, clause.op) {
        (Value::Nothing, op) => {
            sql.push(column).push(" ").push(op.sql());
        }
        (Value::Number(number), op) if numeric && op.is_numeric() => {
            sql.push(column).push(" ").push(op.sql()).push(" ").bind(*number);
        }
        (_, _) if numeric => return Err(mismatch("a number and one of =, !=, >, >=, <, <=")),
        (Value::Str(text), Op::Eq | Op::Ne) => {
            sql.push(column).push(" ").push(clause.op.sql()).push(" ").bind(text.clone());
        }
        (Value::Str(pattern), Op::Like) => push_like(sql, column, pattern),
        (Value::Str(pattern), Op::ILike) => {
            sql.push("LOWER(").push(column).push(") LIKE LOWER(").bind(pattern.clone()).push(")");
        }
        (Value::List(items), Op::In | Op::NotIn) => {
            sql.push(column).push(" ").push(clause.op.sql()).push(" ").bind_list(items.iter().cloned());
        }
        (Value::Number(_), _) => return Err(mismatch("a quoted value")),
        _ => return Err(mismatch("a quoted value and one of =, !=, LIKE, ILIKE, IN, NOT IN")),
    }
    Ok(())
}

/// A case-sensitive LIKE on both backends (SQLite's LIKE ignores case; its GLOB does not).
fn push_like(sql: &mut Sql, column: &str, pattern: &str) {
    match sql.backend() {
        Backend::Postgres => {
            sql.push(column).push(" LIKE ").bind(pattern);
        }
        Backend::Sqlite => {
            let mut glob = String::with_capacity(pattern.len());
            for c in pattern.chars() {
                match c {
                    '%' => glob.push('*'),
                    '_' => glob.push('?'),
                    '*' | '?' | '[' | ']' => {
                        glob.push('[');
                        glob.push(c);
                        glob.push(']');
                    }
                    other => glob.push(other),
                }
            }
            sql.push(column).push(" GLOB ").bind(glob);
        }
    }
}

/// A clause on a key–value table (`params`, `tags`, `experiment_tags`) of the row `outer_id`.
/// A row without the key fails every comparison, except `!=` with `missing_is_unequal` (how
/// the model registry reads `tags.x != 'y'`: MLflow's client adds
/// ``tag.`mlflow.prompt.is_prompt` != 'true'`` to every registered-model search).
pub(crate) fn push_tag_clause(
    sql: &mut Sql,
    table: &str,
    id_column: &str,
    outer_id: &str,
    clause: &Clause,
    missing_is_unequal: bool,
) -> Result<(), TrackingError> {
    let absent = clause.op == Op::IsNull || (missing_is_unequal && clause.op == Op::Ne);
    sql.push(if absent { "NOT EXISTS" } else { "EXISTS" })
        .push(&format!(" (SELECT 1 FROM {table} t WHERE t.{id_column} = {outer_id} AND t.key = "))
        .bind(clause.key.name.clone());
    match clause.op {
        Op::IsNull | Op::IsNotNull => {}
        Op::Ne if missing_is_unequal => {
            let equal = Clause { op: Op::Eq, ..clause.clone() };
            sql.push(" AND ");
            push_comparison(sql, "t.value", &equal, false)?;
        }
        _ => {
            sql.push(" AND ");
            push_comparison(sql, "t.value", clause, false)?;
        }
    }
    sql.push(")");
    Ok(())
}

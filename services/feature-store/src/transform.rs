//! SQL transformations: a feature view whose rows a query computes (Apache DataFusion's SQL) over
//! its source dataset and other feature views. Checked at apply (`check`: the SQL parses, reads
//! only what exists, forms no cycle and gives the view's columns) and run whenever the view's
//! rows are read from the offline store (`run`): by materialization, the streaming path and
//! historical retrieval.

#[cfg(feature = "sql")]
mod check;
#[cfg(feature = "sql")]
mod run;
#[cfg(feature = "sql")]
mod shape;
#[cfg(not(feature = "sql"))]
mod unbuilt;

use arrow_schema::DataType;
use cairn_db::DbError;
use cairn_domain::ColumnType;

#[cfg(feature = "sql")]
pub(crate) use check::outputs;
#[cfg(feature = "sql")]
pub(crate) use run::Transforms;
#[cfg(not(feature = "sql"))]
pub(crate) use unbuilt::{Transforms, outputs};

use crate::online::Catalog;

/// Why a build without the `sql` feature (DataFusion, half of a cold release build) refuses a
/// view with a query.
#[cfg_attr(feature = "sql", expect(dead_code, reason = "the message of builds without the sql feature"))]
pub(crate) const NOT_BUILT: &str = "SQL transformations are not in this build of Cairn: build it with \
     `cargo build --release -p cairn --features sql-transforms` (the Docker image has them)";

#[derive(Debug, thiserror::Error)]
pub(crate) enum TransformError {
    #[error("feature view `{view}`: {message}")]
    Query { view: String, message: String },
    #[error(transparent)]
    Database(#[from] DbError),
}

/// Views reading views deeper than this are refused (apply refuses cycles; this guards reads of
/// definitions that another apply changed meanwhile).
const MAX_DEPTH: usize = 32;

/// Whether `view` reads `dataset`: as its source, or through the views its query reads.
pub(crate) fn reads(catalog: &Catalog, view: &cairn_api::FeatureView, dataset: &str) -> bool {
    fn visit(catalog: &Catalog, view: &cairn_api::FeatureView, dataset: &str, depth: usize) -> bool {
        if view.definition.source.as_str() == dataset {
            return true;
        }
        let Some(sql) = &view.definition.sql else { return false };
        let Ok(tables) = references(sql) else { return false };
        depth < MAX_DEPTH
            && tables
                .iter()
                .filter(|table| table.as_str() != view.definition.source.as_str())
                .filter_map(|table| catalog.view(table, None))
                .any(|other| visit(catalog, other, dataset, depth + 1))
    }
    visit(catalog, view, dataset, 0)
}

/// Without DataFusion no query can be read.
#[cfg(not(feature = "sql"))]
fn references(_sql: &str) -> Result<Vec<String>, String> {
    Err(NOT_BUILT.to_owned())
}

/// The names of the tables a query reads, or why it is not one query. Parsed on its own, without
/// a session (the streaming path asks this for every landed batch), with DataFusion's default
/// dialect and identifier normalization, as a session would.
#[cfg(feature = "sql")]
fn references(sql: &str) -> Result<Vec<String>, String> {
    use datafusion::sql::parser::{DFParser, Statement};
    use datafusion::sql::sqlparser::ast;

    let mut statements = DFParser::parse_sql(sql).map_err(|error| strip(&error))?;
    let statement = match (statements.pop_front(), statements.is_empty()) {
        (Some(statement), true) => statement,
        (None, _) => return Err("the query is empty".to_owned()),
        (Some(_), false) => return Err("give one query, not several statements".to_owned()),
    };
    if !matches!(&statement, Statement::Statement(inner) if matches!(**inner, ast::Statement::Query(_))) {
        return Err("only a query (SELECT … or WITH …) can compute a view's rows".to_owned());
    }
    let (tables, _) = datafusion::sql::resolve::resolve_table_references(&statement, true)
        .map_err(|error| strip(&error))?;
    let mut names: Vec<String> = tables.iter().map(|reference| reference.table().to_owned()).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(feature = "sql")]
/// DataFusion's message without the prefixes ("SQL error: ParserError(…)", "Schema error: ")
/// that name its own modules rather than the problem.
fn strip(error: &datafusion::error::DataFusionError) -> String {
    use datafusion::error::DataFusionError;
    use datafusion::sql::sqlparser::parser::ParserError;

    match error.find_root() {
        DataFusionError::SQL(error, _) => match error.as_ref() {
            ParserError::ParserError(message) | ParserError::TokenizerError(message) => message.clone(),
            ParserError::RecursionLimitExceeded => "the query nests too deep".to_owned(),
        },
        DataFusionError::SchemaError(error, _) => error.to_string(),
        DataFusionError::Plan(message) | DataFusionError::NotImplemented(message) => message.clone(),
        other => other.to_string(),
    }
}

/// The column type a query's result column has, as a feature or key: integers of any width,
/// strings of any layout and timestamps of any unit are read as Cairn's types.
pub(crate) fn column_type(data_type: &DataType) -> Option<ColumnType> {
    Some(match data_type {
        DataType::Boolean => ColumnType::Bool,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            ColumnType::Int32
        }
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => ColumnType::Int64,
        DataType::Float16 | DataType::Float32 => ColumnType::Float32,
        DataType::Float64 => ColumnType::Float64,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::String,
        DataType::Dictionary(_, values) => return column_type(values),
        DataType::Timestamp(_, _) => ColumnType::Timestamp,
        _ => return None,
    })
}

//! SQL transformations: a feature view whose rows a query computes (Apache DataFusion's SQL) over
//! its source dataset and other feature views. Checked at apply (`check`: the SQL parses, reads
//! only what exists, forms no cycle and gives the view's columns) and run whenever the view's
//! rows are read from the offline store (`run`): by materialization, the streaming path and
//! historical retrieval.

mod check;
mod run;

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef};
use cairn_api::{EntityDef, FeatureViewDef};
use cairn_domain::{ColumnType, Name, Schema};
use cairn_storage::data_type;

pub(crate) use check::outputs;
pub(crate) use run::{TransformError, Transforms};

use crate::online::Catalog;

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

/// The names of the tables a query reads, or why it is not one query. Parsed on its own, without
/// a session (the streaming path asks this for every landed batch), with DataFusion's default
/// dialect and identifier normalization, as a session would.
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

/// A view's join keys: its entities' keys in order, each once (unknown entities are for the
/// definitions' own checks to report).
fn join_keys<'a>(view: &FeatureViewDef, entities: impl Fn(&Name) -> Option<&'a EntityDef>) -> Vec<Name> {
    let mut keys: Vec<Name> = Vec::new();
    for entity in view.entities.iter().filter_map(&entities) {
        for key in &entity.join_keys {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    keys
}

/// The columns a view's rows have, as other views' queries see it: its join keys, event time and
/// created time as its input holds them, then its features as declared.
fn projection(view: &FeatureViewDef, join_keys: &[Name], input: &Schema) -> SchemaRef {
    let timestamp = view.timestamp_field.as_ref().unwrap_or(&input.event_timestamp);
    let held = join_keys.iter().chain([timestamp]).chain(view.created_timestamp_field.as_ref());
    let mut fields: Vec<Field> = held
        .filter_map(|name| input.column(name))
        .map(|column| Field::new(column.name.as_str(), data_type(&column.column_type), true))
        .collect();
    fields.extend(
        view.features
            .iter()
            .map(|feature| Field::new(feature.name.as_str(), data_type(&feature.column_type), true)),
    );
    Arc::new(ArrowSchema::new(fields))
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

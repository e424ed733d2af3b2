//! The apply-time checks of SQL transformations, and the columns each query gives.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_api::{Definitions, FeatureViewDef, SourceDataset};
use cairn_domain::{Column, Name, Schema};
use cairn_storage::arrow_schema;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::shape::{join_keys, projection};
use super::{column_type, references, strip};
use crate::definitions::{DefinitionError, VIEW, invalid};

const SQL: &str = "sql";

/// The result columns of each view's query (by view name), for the definitions' checks of its
/// join keys, event time and features. Its event time is the source dataset's by default.
pub(crate) async fn outputs(
    definitions: &Definitions,
    sources: &[SourceDataset],
) -> Result<BTreeMap<Name, Schema>, DefinitionError> {
    let views: BTreeMap<&Name, &FeatureViewDef> =
        definitions.feature_views.iter().map(|view| (&view.name, view)).collect();
    let source_of = |view: &FeatureViewDef| sources.iter().find(|source| source.name == view.source);
    // The views each query reads.
    let mut reads: BTreeMap<&Name, Vec<&Name>> = BTreeMap::new();
    for view in views.values() {
        let Some(sql) = &view.sql else { continue };
        let bad = |message: String| invalid(VIEW, &view.name, SQL, message);
        let mut read = Vec::new();
        for table in references(sql).map_err(bad)? {
            let as_view = views.keys().find(|name| name.as_str() == table);
            match (table == view.source.as_str(), as_view) {
                (true, Some(_)) => {
                    return Err(bad(format!(
                        "`{table}` names both the source dataset and a feature view: rename the view"
                    )));
                }
                (true, None) => {}
                (false, Some(name)) => read.push(*name),
                (false, None) => {
                    return Err(bad(format!(
                        "the query reads `{table}`, which is neither the source dataset `{}` nor a feature view",
                        view.source
                    )));
                }
            }
        }
        reads.insert(&view.name, read);
    }
    let entity = |name: &Name| definitions.entities.iter().find(|entity| entity.name == *name);
    let mut outputs: BTreeMap<Name, Schema> = BTreeMap::new();
    for name in order(&reads)? {
        let view = views[name];
        let Some(sql) = &view.sql else { continue };
        // An unknown source is for the definitions' checks to name.
        let Some(source) = source_of(view) else { continue };
        let bad = |message: String| invalid(VIEW, &view.name, SQL, message);
        let context = SessionContext::new();
        let empty = |schema| MemTable::try_new(schema, vec![Vec::new()]).map_err(|error| bad(strip(&error)));
        context
            .register_table(source.name.as_str(), Arc::new(empty(arrow_schema(&source.schema))?))
            .map_err(|error| bad(strip(&error)))?;
        for read in &reads[name] {
            let other = views[*read];
            let input = match outputs.get(*read) {
                Some(output) => output,
                None => match source_of(other) {
                    Some(source) => &source.schema,
                    None => continue,
                },
            };
            let schema = projection(other, &join_keys(other, entity), input);
            context
                .register_table(read.as_str(), Arc::new(empty(schema)?))
                .map_err(|error| bad(strip(&error)))?;
        }
        let planned = context.sql(sql).await.map_err(|error| bad(strip(&error)))?;
        let mut columns = Vec::new();
        for field in planned.schema().fields() {
            let name = Name::parse(field.name().as_str());
            match (column_type(field.data_type()), name) {
                (Some(column_type), Ok(name)) => {
                    columns.push(Column { name, column_type, nullable: true, rules: Default::default() });
                }
                // A column the view names must be one it can hold; others are not read.
                (None, Ok(name)) if names(view, &join_keys(view, entity)).contains(&name) => {
                    return Err(bad(format!(
                        "the query's column `{name}` is of type {}, which a feature view cannot hold",
                        field.data_type()
                    )));
                }
                _ => {}
            }
        }
        let schema = Schema {
            columns,
            event_timestamp: source.schema.event_timestamp.clone(),
            entity_keys: Vec::new(),
            unique_key: false,
        };
        outputs.insert(view.name.clone(), schema);
    }
    Ok(outputs)
}

/// The columns a view reads from its input.
fn names(view: &FeatureViewDef, join_keys: &[Name]) -> Vec<Name> {
    let mut names = join_keys.to_vec();
    names.extend(view.timestamp_field.clone());
    names.extend(view.created_timestamp_field.clone());
    names.extend(view.features.iter().map(|feature| feature.name.clone()));
    names
}

/// The views in an order where each comes after the views its query reads; a cycle is refused,
/// naming its views in order.
fn order<'a>(reads: &BTreeMap<&'a Name, Vec<&'a Name>>) -> Result<Vec<&'a Name>, DefinitionError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        name: &'a Name,
        reads: &BTreeMap<&'a Name, Vec<&'a Name>>,
        marks: &mut BTreeMap<&'a Name, Mark>,
        path: &mut Vec<&'a Name>,
        order: &mut Vec<&'a Name>,
    ) -> Result<(), DefinitionError> {
        match marks.get(name) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => {
                let from = path.iter().position(|held| *held == name).unwrap_or(0);
                let cycle: Vec<&str> = path[from..].iter().chain([&name]).map(|name| name.as_str()).collect();
                return Err(invalid(
                    VIEW,
                    path[from],
                    SQL,
                    format!("the queries read each other in a cycle: {}", cycle.join(" → ")),
                ));
            }
            None => {}
        }
        marks.insert(name, Mark::Visiting);
        path.push(name);
        for read in reads.get(name).into_iter().flatten() {
            visit(read, reads, marks, path, order)?;
        }
        path.pop();
        marks.insert(name, Mark::Done);
        order.push(name);
        Ok(())
    }
    let (mut marks, mut path, mut order) = (BTreeMap::new(), Vec::new(), Vec::new());
    for name in reads.keys() {
        visit(name, reads, &mut marks, &mut path, &mut order)?;
    }
    Ok(order)
}

//! The columns of a view's rows as queries see them.

use std::sync::Arc;

use arrow_schema::{Field, Schema as ArrowSchema, SchemaRef};
use cairn_api::{EntityDef, FeatureViewDef};
use cairn_domain::{Name, Schema};
use cairn_storage::data_type;

/// A view's join keys: its entities' keys in order, each once (unknown entities are for the
/// definitions' own checks to report).
pub(super) fn join_keys<'a>(
    view: &FeatureViewDef,
    entities: impl Fn(&Name) -> Option<&'a EntityDef>,
) -> Vec<Name> {
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
pub(super) fn projection(view: &FeatureViewDef, join_keys: &[Name], input: &Schema) -> SchemaRef {
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

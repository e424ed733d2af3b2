//! The result's columns: the features no file holds yet put in their places as nulls, and the
//! schema a dataset of the result declares.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::HistoricalError;
use crate::point_in_time::JoinError;

/// A view's name and its features in order, each with its declared type when no file holds it.
pub(super) type ViewLayout = (String, Vec<(String, Option<DataType>)>);

/// `joined` (the entity columns, then each view's features that files hold) with the features no
/// file holds put in their places, as nulls of their declared types.
pub(super) fn with_absent(
    joined: &RecordBatch,
    entity_columns: usize,
    layout: &[ViewLayout],
    full_feature_names: bool,
) -> Result<RecordBatch, JoinError> {
    if layout.iter().all(|(_, features)| features.iter().all(|(_, absent)| absent.is_none())) {
        return Ok(joined.clone());
    }
    let schema = joined.schema();
    let mut fields: Vec<Field> =
        schema.fields().iter().take(entity_columns).map(|f| f.as_ref().clone()).collect();
    let mut columns: Vec<ArrayRef> = joined.columns().iter().take(entity_columns).cloned().collect();
    let mut next = entity_columns;
    for (view, features) in layout {
        for (feature, absent) in features {
            match absent {
                None => {
                    fields.push(schema.field(next).clone());
                    columns.push(joined.column(next).clone());
                    next += 1;
                }
                Some(data_type) => {
                    let name =
                        if full_feature_names { format!("{view}__{feature}") } else { feature.clone() };
                    fields.push(Field::new(name, data_type.clone(), true));
                    columns.push(arrow_array::new_null_array(data_type, joined.num_rows()));
                }
            }
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

/// The schema a dataset of `result` declares: the entity dataset's columns as it declares them
/// (without its rules), features as their views declare them, other columns as their Arrow type
/// reads; every column nullable but the event time.
pub(super) fn dataset_schema(
    result: &SchemaRef,
    event_timestamp: &str,
    entity: Option<&cairn_domain::Schema>,
    groups: &[crate::online::Group],
    full: bool,
) -> Result<cairn_domain::Schema, HistoricalError> {
    let declared = |name: &str| {
        let from_entity = entity.and_then(|schema| schema.columns.iter().find(|c| c.name.as_str() == name));
        from_entity.map(|column| column.column_type.clone()).or_else(|| {
            groups.iter().find_map(|group| {
                let view = &group.view.definition;
                group.columns.iter().find_map(|(_, index)| {
                    let feature = &view.features[*index];
                    let output = if full {
                        format!("{}__{}", view.name, feature.name)
                    } else {
                        feature.name.to_string()
                    };
                    (output == name).then(|| feature.column_type.clone())
                })
            })
        })
    };
    let mut columns = Vec::with_capacity(result.fields().len());
    for field in result.fields() {
        let name = cairn_domain::Name::parse(field.name().as_str())
            .map_err(|error| HistoricalError::Invalid(format!("column `{}`: {error}", field.name())))?;
        let column_type = declared(field.name())
            .or_else(|| crate::transform::column_type(field.data_type()))
            .ok_or_else(|| {
                HistoricalError::Invalid(format!(
                    "column `{name}` is of type {}, which a dataset cannot hold",
                    field.data_type()
                ))
            })?;
        let nullable = name.as_str() != event_timestamp;
        columns.push(cairn_domain::Column { name, column_type, nullable, rules: Default::default() });
    }
    let event_timestamp = cairn_domain::Name::parse(event_timestamp)
        .map_err(|error| HistoricalError::Invalid(format!("`{event_timestamp}`: {error}")))?;
    Ok(cairn_domain::Schema { columns, event_timestamp, entity_keys: Vec::new(), unique_key: false })
}

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema as ArrowSchema, TimeUnit};
use cairn_domain::{ColumnType, Schema};

/// The Arrow (and so Parquet) schema of a dataset's files.
pub fn arrow_schema(schema: &Schema) -> Arc<ArrowSchema> {
    let fields: Vec<Field> = schema
        .columns
        .iter()
        .map(|column| Field::new(column.name.as_str(), data_type(&column.column_type), column.nullable))
        .collect();
    Arc::new(ArrowSchema::new(fields))
}

/// The Arrow schema of rows before validation: the dataset's types, every column nullable.
pub(crate) fn input_schema(schema: &Schema) -> Arc<ArrowSchema> {
    let fields: Vec<Field> = schema
        .columns
        .iter()
        .map(|column| Field::new(column.name.as_str(), data_type(&column.column_type), true))
        .collect();
    Arc::new(ArrowSchema::new(fields))
}

pub fn data_type(column_type: &ColumnType) -> DataType {
    match column_type {
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float32 => DataType::Float32,
        ColumnType::Float64 => DataType::Float64,
        // Parquet dictionary-encodes repeated strings by itself; readers see plain strings.
        ColumnType::String | ColumnType::Categorical { .. } => DataType::Utf8,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

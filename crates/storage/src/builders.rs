use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::Schema as ArrowSchema;
use cairn_domain::{ColumnType, Schema};
use cairn_records::{Record, Value};

use crate::StorageError;

/// Arrow builders for one partition's buffered rows.
pub(crate) struct Builders {
    columns: Vec<Column>,
    rows: usize,
}

enum Column {
    Bool(BooleanBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Utf8(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl Builders {
    pub(crate) fn new(schema: &Schema) -> Self {
        let columns = schema
            .columns
            .iter()
            .map(|column| match column.column_type {
                ColumnType::Bool => Column::Bool(BooleanBuilder::new()),
                ColumnType::Int32 => Column::Int32(Int32Builder::new()),
                ColumnType::Int64 => Column::Int64(Int64Builder::new()),
                ColumnType::Float32 => Column::Float32(Float32Builder::new()),
                ColumnType::Float64 => Column::Float64(Float64Builder::new()),
                ColumnType::String | ColumnType::Categorical { .. } => Column::Utf8(StringBuilder::new()),
                ColumnType::Timestamp => {
                    Column::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
                }
            })
            .collect();
        Self { columns, rows: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Appends a record decoded against the same schema. A value of another type than its
    /// column (which the decoders never produce) is stored as null.
    pub(crate) fn push(&mut self, record: &Record) {
        for (column, value) in self.columns.iter_mut().zip(record) {
            match (column, value) {
                (Column::Bool(b), Value::Bool(v)) => b.append_value(*v),
                (Column::Int32(b), Value::Int(v)) => b.append_option(i32::try_from(*v).ok()),
                (Column::Int64(b), Value::Int(v)) => b.append_value(*v),
                (Column::Float32(b), Value::Float(v)) => b.append_value(*v as f32),
                (Column::Float64(b), Value::Float(v)) => b.append_value(*v),
                (Column::Utf8(b), Value::Str(v)) => b.append_value(v),
                (Column::Timestamp(b), Value::Timestamp(v)) => b.append_value(*v),
                (Column::Bool(b), _) => b.append_null(),
                (Column::Int32(b), _) => b.append_null(),
                (Column::Int64(b), _) => b.append_null(),
                (Column::Float32(b), _) => b.append_null(),
                (Column::Float64(b), _) => b.append_null(),
                (Column::Utf8(b), _) => b.append_null(),
                (Column::Timestamp(b), _) => b.append_null(),
            }
        }
        self.rows += 1;
    }

    /// The buffered rows as a batch; the builders are empty afterwards.
    pub(crate) fn finish(&mut self, schema: &Arc<ArrowSchema>) -> Result<RecordBatch, StorageError> {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|column| -> ArrayRef {
                match column {
                    Column::Bool(b) => Arc::new(b.finish()),
                    Column::Int32(b) => Arc::new(b.finish()),
                    Column::Int64(b) => Arc::new(b.finish()),
                    Column::Float32(b) => Arc::new(b.finish()),
                    Column::Float64(b) => Arc::new(b.finish()),
                    Column::Utf8(b) => Arc::new(b.finish()),
                    Column::Timestamp(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(schema.clone(), arrays)?)
    }
}

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::Schema as ArrowSchema;
use cairn_domain::{ColumnType, Schema};
use cairn_records::{Cell, CellSink, Record};

use crate::StorageError;
use crate::layout::input_schema;

/// Rows of a dataset's schema appended one at a time — whole records, or cell by cell as a
/// decoder reads them — and taken as a batch of the dataset's Arrow types, every column
/// nullable (validation comes after).
pub struct BatchBuilder {
    schema: Arc<ArrowSchema>,
    columns: Vec<ColumnBuilder>,
    rows: usize,
}

impl BatchBuilder {
    pub fn new(schema: &Schema) -> Self {
        let columns = schema.columns.iter().map(|column| ColumnBuilder::new(&column.column_type)).collect();
        Self { schema: input_schema(schema), columns, rows: 0 }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends a record decoded against the same schema.
    pub fn push(&mut self, record: &Record) {
        for (column, value) in self.columns.iter_mut().zip(record) {
            column.push(value.cell());
        }
        self.rows += 1;
    }

    /// Appends the cell of schema column `column` to the row being built: every column once,
    /// then [`BatchBuilder::end_row`].
    pub fn push_cell(&mut self, column: usize, cell: Option<Cell<'_>>) {
        if let Some(builder) = self.columns.get_mut(column) {
            builder.push(cell);
        }
    }

    pub fn end_row(&mut self) {
        self.rows += 1;
    }

    /// The rows appended as a batch; the builder is empty afterwards.
    pub fn finish(&mut self) -> Result<RecordBatch, StorageError> {
        let arrays = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

impl CellSink for BatchBuilder {
    fn cell(&mut self, column: usize, cell: Option<Cell<'_>>) {
        self.push_cell(column, cell);
    }
}

/// One column's builder, of the Arrow type its column type is stored as.
pub(crate) enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Utf8(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    pub(crate) fn new(column_type: &ColumnType) -> Self {
        match column_type {
            ColumnType::Bool => Self::Bool(BooleanBuilder::new()),
            ColumnType::Int32 => Self::Int32(Int32Builder::new()),
            ColumnType::Int64 => Self::Int64(Int64Builder::new()),
            ColumnType::Float32 => Self::Float32(Float32Builder::new()),
            ColumnType::Float64 => Self::Float64(Float64Builder::new()),
            ColumnType::String | ColumnType::Categorical { .. } => Self::Utf8(StringBuilder::new()),
            ColumnType::Timestamp => Self::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
        }
    }

    /// A value of another type than the column's (which the decoders never produce) is stored
    /// as null.
    pub(crate) fn push(&mut self, cell: Option<Cell<'_>>) {
        match (self, cell) {
            (Self::Bool(b), Some(Cell::Bool(v))) => b.append_value(v),
            (Self::Int32(b), Some(Cell::Int(v))) => b.append_option(i32::try_from(v).ok()),
            (Self::Int64(b), Some(Cell::Int(v))) => b.append_value(v),
            (Self::Float32(b), Some(Cell::Float(v))) => b.append_value(v as f32),
            (Self::Float64(b), Some(Cell::Float(v))) => b.append_value(v),
            (Self::Utf8(b), Some(Cell::Str(v))) => b.append_value(v),
            (Self::Timestamp(b), Some(Cell::Timestamp(v))) => b.append_value(v),
            (Self::Bool(b), _) => b.append_null(),
            (Self::Int32(b), _) => b.append_null(),
            (Self::Int64(b), _) => b.append_null(),
            (Self::Float32(b), _) => b.append_null(),
            (Self::Float64(b), _) => b.append_null(),
            (Self::Utf8(b), _) => b.append_null(),
            (Self::Timestamp(b), _) => b.append_null(),
        }
    }

    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Float32(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Utf8(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
        }
    }
}

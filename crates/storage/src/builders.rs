use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::Schema as ArrowSchema;
use cairn_domain::{Column, ColumnType, Schema};
use cairn_records::{Cell, CellSink, Record, parse};

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
    /// Parsed straight into the column's builder.
    fn text(&mut self, index: usize, text: &str, column: &Column) -> Result<(), String> {
        match self.columns.get_mut(index) {
            Some(builder) => builder.push_text(text, &column.column_type),
            None => Ok(()),
        }
    }

    fn null(&mut self, index: usize) {
        self.push_cell(index, None);
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

    /// A field's text parsed as the column's type, as [`parse::cell_from_text`] parses it but
    /// without a [`Cell`] between (a decoded CSV file is mostly this): empty is null.
    #[inline]
    fn push_text(&mut self, text: &str, column_type: &ColumnType) -> Result<(), String> {
        if text.is_empty() {
            self.push(None);
            return Ok(());
        }
        let bad = || parse::not_a(text, column_type);
        match self {
            Self::Bool(b) => b.append_value(parse::boolean(text).ok_or_else(bad)?),
            Self::Int32(b) => b.append_value(parse::integer(text).ok_or_else(bad)?),
            Self::Int64(b) => b.append_value(parse::integer(text).ok_or_else(bad)?),
            Self::Float32(b) => b.append_value(parse::float(text).ok_or_else(bad)? as f32),
            Self::Float64(b) => b.append_value(parse::float(text).ok_or_else(bad)?),
            Self::Utf8(b) => b.append_value(text),
            Self::Timestamp(b) => b.append_value(parse::timestamp_field(text).ok_or_else(bad)?),
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use cairn_records::parse::cell_from_text;

    use super::*;

    fn column(column_type: &str) -> Column {
        serde_json::from_value(serde_json::json!({"name": "c", "type": column_type})).unwrap()
    }

    proptest::proptest! {
        /// The builder's own parsing of a field gives what the records' parser gives.
        #[test]
        fn fields_parse_into_the_builder_as_into_cells(
            text in proptest::prop_oneof![
                "[ ]?[-+]?[0-9tfyn.eT:Z -]{0,24}[ ]?",
                " ?2026-[01][0-9]-[0-3][0-9][T ][0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,7})?Z? ?",
            ],
            column_type in proptest::sample::select(
                vec!["bool", "int32", "int64", "float32", "float64", "string", "timestamp"],
            ),
        ) {
            let column = column(column_type);
            let (mut direct, mut through_cells) = (ColumnBuilder::new(&column.column_type), ColumnBuilder::new(&column.column_type));
            let parsed = direct.push_text(&text, &column.column_type);
            let cell = cell_from_text(&text, &column);
            proptest::prop_assert_eq!(&parsed, &cell.clone().map(|_| ()));
            if let Ok(cell) = cell {
                through_cells.push(cell);
                proptest::prop_assert_eq!(direct.finish().to_data(), through_cells.finish().to_data());
            }
        }
    }
}

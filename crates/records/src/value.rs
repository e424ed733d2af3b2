use std::fmt;

/// One typed value. Integers of every width are `Int`, floats `Float`, categorical values `Str`;
/// the schema says which Arrow type each becomes in the offline store.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
}

/// One row, a value per schema column in schema order.
pub type Record = Vec<Value>;

/// A value that is not null, borrowing its text: what a decoder or a column of a batch holds,
/// read without an allocation per cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The numeric view used by min/max rules and statistics.
    pub fn as_f64(&self) -> Option<f64> {
        self.cell().and_then(Cell::as_f64)
    }

    /// The value borrowed; none for null.
    pub fn cell(&self) -> Option<Cell<'_>> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(v) => Cell::Bool(*v),
            Value::Int(v) => Cell::Int(*v),
            Value::Float(v) => Cell::Float(*v),
            Value::Str(v) => Cell::Str(v),
            Value::Timestamp(v) => Cell::Timestamp(*v),
        })
    }
}

impl Cell<'_> {
    /// The numeric view used by min/max rules and statistics.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Cell::Int(v) | Cell::Timestamp(v) => Some(v as f64),
            Cell::Float(v) => Some(v),
            Cell::Bool(_) | Cell::Str(_) => None,
        }
    }

    pub fn to_value(self) -> Value {
        match self {
            Cell::Bool(v) => Value::Bool(v),
            Cell::Int(v) => Value::Int(v),
            Cell::Float(v) => Value::Float(v),
            Cell::Str(v) => Value::Str(v.to_owned()),
            Cell::Timestamp(v) => Value::Timestamp(v),
        }
    }
}

impl fmt::Display for Cell<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Bool(v) => write!(f, "{v}"),
            Cell::Int(v) => write!(f, "{v}"),
            Cell::Float(v) => write!(f, "{v}"),
            Cell::Str(v) => f.write_str(v),
            Cell::Timestamp(v) => match cairn_domain::Timestamp::from_micros(*v) {
                Some(ts) => write!(f, "{ts}"),
                None => write!(f, "{v}"),
            },
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cell() {
            None => f.write_str("null"),
            Some(cell) => cell.fmt(f),
        }
    }
}

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

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The numeric view used by min/max rules and statistics.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) | Value::Timestamp(v) => Some(*v as f64),
            Value::Float(v) => Some(*v),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Str(v) => f.write_str(v),
            Value::Timestamp(v) => match cairn_domain::Timestamp::from_micros(*v) {
                Some(ts) => write!(f, "{ts}"),
                None => write!(f, "{v}"),
            },
        }
    }
}

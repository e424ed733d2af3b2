//! What the online store holds per entity: the latest row's feature values and times, in a
//! compact binary form, under a key built from the entity's join key values.

use std::fmt::Write as _;

pub use cairn_records::Value;

/// A value as Feast's feature server writes it in JSON: numbers, strings, booleans, null;
/// timestamps as RFC 3339 text.
pub fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(value) => (*value).into(),
        Value::Int(value) => (*value).into(),
        // NaN and infinities have no JSON form.
        Value::Float(value) => {
            serde_json::Number::from_f64(*value).map_or(serde_json::Value::Null, Into::into)
        }
        Value::Str(value) => value.clone().into(),
        Value::Timestamp(micros) => cairn_api::EventTime(*micros).to_string().into(),
    }
}

/// The newest row of one entity: its event time, created time (0 without one) and feature
/// values in the view version's feature order.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineRow {
    pub event_micros: i64,
    pub created_micros: i64,
    pub values: Vec<Value>,
}

const FORMAT: u8 = 1;
const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const FLOAT: u8 = 4;
const STRING: u8 = 5;
const TIMESTAMP: u8 = 6;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("an online value is malformed: {0}")]
pub struct DecodeError(&'static str);

impl OnlineRow {
    /// Whether this row should replace `other`: a later event, or the same event created later
    /// (or as late: a rewrite of the same row changes nothing).
    pub fn supersedes(&self, other: &Times) -> bool {
        (self.event_micros, self.created_micros) > (other.event_micros, other.created_micros)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(17 + self.values.len() * 9);
        out.push(FORMAT);
        out.extend_from_slice(&self.event_micros.to_le_bytes());
        out.extend_from_slice(&self.created_micros.to_le_bytes());
        for value in &self.values {
            match value {
                Value::Null => out.push(NULL),
                Value::Bool(false) => out.push(FALSE),
                Value::Bool(true) => out.push(TRUE),
                Value::Int(value) => {
                    out.push(INT);
                    out.extend_from_slice(&value.to_le_bytes());
                }
                Value::Float(value) => {
                    out.push(FLOAT);
                    out.extend_from_slice(&value.to_le_bytes());
                }
                Value::Str(value) => {
                    out.push(STRING);
                    out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_le_bytes());
                    out.extend_from_slice(&value.as_bytes()[..value.len().min(u32::MAX as usize)]);
                }
                Value::Timestamp(value) => {
                    out.push(TIMESTAMP);
                    out.extend_from_slice(&value.to_le_bytes());
                }
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let times = Times::decode(bytes)?;
        let mut rest = &bytes[17..];
        let mut values = Vec::new();
        while let Some((&tag, tail)) = rest.split_first() {
            rest = tail;
            let mut take = |count: usize| -> Result<&[u8], DecodeError> {
                if rest.len() < count {
                    return Err(DecodeError("truncated"));
                }
                let (head, tail) = rest.split_at(count);
                rest = tail;
                Ok(head)
            };
            let word = |bytes: &[u8]| <[u8; 8]>::try_from(bytes).map_err(|_| DecodeError("truncated"));
            values.push(match tag {
                NULL => Value::Null,
                FALSE => Value::Bool(false),
                TRUE => Value::Bool(true),
                INT => Value::Int(i64::from_le_bytes(word(take(8)?)?)),
                FLOAT => Value::Float(f64::from_le_bytes(word(take(8)?)?)),
                TIMESTAMP => Value::Timestamp(i64::from_le_bytes(word(take(8)?)?)),
                STRING => {
                    let length = u32::from_le_bytes(
                        <[u8; 4]>::try_from(take(4)?).map_err(|_| DecodeError("truncated"))?,
                    );
                    let text = take(length as usize)?;
                    Value::Str(
                        String::from_utf8(text.to_vec()).map_err(|_| DecodeError("text is not UTF-8"))?,
                    )
                }
                _ => return Err(DecodeError("unknown value tag")),
            });
        }
        Ok(Self { event_micros: times.event_micros, created_micros: times.created_micros, values })
    }
}

/// A stored row's times, read without decoding its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub event_micros: i64,
    pub created_micros: i64,
}

impl Times {
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < 17 || bytes[0] != FORMAT {
            return Err(DecodeError("unknown format"));
        }
        let word = |at: usize| {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&bytes[at..at + 8]);
            i64::from_le_bytes(raw)
        };
        Ok(Self { event_micros: word(1), created_micros: word(9) })
    }
}

/// One join key value, as it names an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart<'a> {
    Int(i64),
    String(&'a str),
    Bool(bool),
}

/// Appends an entity's key: its join key values in order, separated by `.`; integers in
/// decimal, booleans `T`/`F`, strings `x` and their bytes in hex — only characters a NATS KV key
/// allows, and distinct keys stay distinct.
pub fn push_key(out: &mut String, parts: &[KeyPart<'_>]) {
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            out.push('.');
        }
        match part {
            KeyPart::Int(value) => out.push_str(itoa::Buffer::new().format(*value)),
            KeyPart::Bool(value) => out.push(if *value { 'T' } else { 'F' }),
            KeyPart::String(value) => {
                out.push('x');
                for byte in value.bytes() {
                    let _ = write!(out, "{byte:02x}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_encoding() {
        let row = OnlineRow {
            event_micros: 1_700_000_000_000_000,
            created_micros: -3,
            values: vec![
                Value::Null,
                Value::Bool(true),
                Value::Bool(false),
                Value::Int(-7),
                Value::Float(0.25),
                Value::Str("héllo".into()),
                Value::Str(String::new()),
                Value::Timestamp(42),
            ],
        };
        let bytes = row.encode();
        assert_eq!(OnlineRow::decode(&bytes).unwrap(), row);
        assert_eq!(
            Times::decode(&bytes).unwrap(),
            Times { event_micros: row.event_micros, created_micros: -3 }
        );
        assert!(OnlineRow::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(OnlineRow::decode(&[9; 20]).is_err());
    }

    #[test]
    fn keys_use_only_kv_characters_and_stay_distinct() {
        let key = |parts: &[KeyPart<'_>]| {
            let mut out = String::new();
            push_key(&mut out, parts);
            out
        };
        assert_eq!(key(&[KeyPart::Int(-12)]), "-12");
        assert_eq!(key(&[KeyPart::String("a.b"), KeyPart::Bool(true)]), "x612e62.T");
        assert_eq!(key(&[KeyPart::String("")]), "x");
        assert_ne!(key(&[KeyPart::String("1")]), key(&[KeyPart::Int(1)]));
        let all = key(&[KeyPart::String("ü /*>"), KeyPart::Int(i64::MIN)]);
        assert!(all.chars().all(|c| c.is_ascii_alphanumeric() || "-_.=/".contains(c)), "{all}");
    }

    #[test]
    fn newer_rows_supersede_and_equal_ones_do_not() {
        let row = |event, created| OnlineRow { event_micros: event, created_micros: created, values: vec![] };
        let times = |event, created| Times { event_micros: event, created_micros: created };
        assert!(row(2, 0).supersedes(&times(1, 9)));
        assert!(row(1, 2).supersedes(&times(1, 1)));
        assert!(!row(1, 1).supersedes(&times(1, 1)));
        assert!(!row(0, 9).supersedes(&times(1, 0)));
    }
}

//! Reading MLflow's protobuf-flavoured JSON: int64 fields as numbers or strings, doubles as
//! numbers or `"NaN"`/`"Infinity"`, repeated fields given once in a query string, and GET
//! parameters in the query string instead of a body.

use actix_web::HttpRequest;
use actix_web::http::Method;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serializer};
use serde_json::Value;

use super::error::MlflowError;

/// The request message: the query string for GET, the JSON body otherwise (DELETE included).
pub(crate) fn message<T: DeserializeOwned>(request: &HttpRequest, body: &[u8]) -> Result<T, MlflowError> {
    let value = if request.method() == Method::GET {
        let mut object = serde_json::Map::new();
        for (key, value) in url::form_urlencoded::parse(request.query_string().as_bytes()) {
            let value = Value::String(value.into_owned());
            match object.get_mut(key.as_ref()) {
                Some(Value::Array(items)) => items.push(value),
                Some(first) => *first = Value::Array(vec![first.take(), value]),
                None => {
                    object.insert(key.into_owned(), value);
                }
            }
        }
        Value::Object(object)
    } else if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        // Straight into the message, without a tree of values in between: a batch of a thousand
        // metrics is read several times faster.
        return serde_json::from_slice(body).map_err(|error| {
            use serde_json::error::Category;
            match error.classify() {
                Category::Syntax | Category::Eof | Category::Io => {
                    MlflowError::invalid(format!("malformed JSON: {error}"))
                }
                Category::Data => MlflowError::invalid(format!("invalid request: {error}")),
            }
        });
    };
    serde_json::from_value(value).map_err(|error| MlflowError::invalid(format!("invalid request: {error}")))
}

/// A field the message must carry.
pub(crate) fn required<T>(value: Option<T>, name: &str) -> Result<T, MlflowError> {
    value.ok_or_else(|| MlflowError::invalid(format!("missing value for required parameter '{name}'")))
}

/// A required string field that must not be empty either.
pub(crate) fn required_text(value: Option<String>, name: &str) -> Result<String, MlflowError> {
    required(value.filter(|text| !text.is_empty()), name)
}

/// An int64: a JSON number, or a string holding one (protobuf's JSON writes int64 as strings).
pub(crate) fn int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    deserializer.deserialize_any(Nullable::<i64>(PhantomData))
}

/// A double: a JSON number, or a string holding one or `NaN`/`Infinity`/`-Infinity`.
pub(crate) fn double<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    deserializer.deserialize_any(Nullable::<f64>(PhantomData))
}

/// A protobuf scalar as its JSON form carries it: a number, or a string holding one.
trait Scalar: Sized {
    const EXPECTING: &'static str;
    fn from_i64(value: i64) -> Result<Self, String>;
    fn from_u64(value: u64) -> Result<Self, String>;
    fn from_f64(value: f64) -> Result<Self, String>;
    fn from_text(text: &str) -> Result<Self, String>;
}

impl Scalar for i64 {
    const EXPECTING: &'static str = "an integer";
    fn from_i64(value: i64) -> Result<Self, String> {
        Ok(value)
    }
    fn from_u64(value: u64) -> Result<Self, String> {
        i64::try_from(value).map_err(|_| format!("{value} is not an int64"))
    }
    fn from_f64(value: f64) -> Result<Self, String> {
        // Within i64's range, so the cast is exact.
        if value.fract() == 0.0 && (-9.2e18..9.2e18).contains(&value) {
            Ok(value as i64)
        } else {
            Err(format!("{value} is not an integer"))
        }
    }
    fn from_text(text: &str) -> Result<Self, String> {
        text.trim().parse().map_err(|_| format!("`{text}` is not an integer"))
    }
}

impl Scalar for f64 {
    const EXPECTING: &'static str = "a number";
    fn from_i64(value: i64) -> Result<Self, String> {
        Ok(value as f64)
    }
    fn from_u64(value: u64) -> Result<Self, String> {
        Ok(value as f64)
    }
    fn from_f64(value: f64) -> Result<Self, String> {
        Ok(value)
    }
    fn from_text(text: &str) -> Result<Self, String> {
        match text {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other.trim().parse().map_err(|_| format!("`{text}` is not a number")),
        }
    }
}

/// Reads a [`Scalar`] straight from the input, `null` or absent as `None`.
struct Nullable<T>(PhantomData<T>);

impl<'de, T: Scalar> Visitor<'de> for Nullable<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(T::EXPECTING)
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        T::from_i64(value).map(Some).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        T::from_u64(value).map(Some).map_err(E::custom)
    }
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        T::from_f64(value).map(Some).map_err(E::custom)
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        T::from_text(text).map(Some).map_err(E::custom)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

pub(crate) fn strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![text]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                Value::Number(number) => Ok(number.to_string()),
                other => Err(D::Error::custom(format!("{other} is not a string"))),
            })
            .collect(),
        Some(other) => Err(D::Error::custom(format!("{other} is not a list of strings"))),
    }
}

/// Doubles as protobuf's JSON writes them: non-finite values as strings.
pub(crate) fn serialize_double<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        serializer.serialize_str("NaN")
    } else if value.is_infinite() {
        serializer.serialize_str(if *value > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        serializer.serialize_f64(*value)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct KeyValue {
    pub key: Option<String>,
    pub value: Option<String>,
}

impl KeyValue {
    pub fn into_tracking(self, kind: &str) -> Result<crate::tracking::KeyValue, MlflowError> {
        Ok(crate::tracking::KeyValue {
            key: required(self.key, &format!("{kind}.key"))?,
            value: self.value.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Point {
        #[serde(default, deserialize_with = "super::int")]
        step: Option<i64>,
        #[serde(default, deserialize_with = "super::double")]
        value: Option<f64>,
    }

    fn read(json: &str) -> Result<(Option<i64>, Option<f64>), String> {
        serde_json::from_str::<Point>(json).map(|p| (p.step, p.value)).map_err(|e| e.to_string())
    }

    #[test]
    fn int64_and_double_as_protobuf_json_writes_them() {
        assert_eq!(read(r#"{"step": 3, "value": 0.5}"#), Ok((Some(3), Some(0.5))));
        assert_eq!(
            read(r#"{"step": "-9007199254740993", "value": "2"}"#),
            Ok((Some(-9007199254740993), Some(2.0)))
        );
        assert_eq!(read(r#"{"step": 4.0, "value": 7}"#), Ok((Some(4), Some(7.0))));
        assert_eq!(read(r#"{"step": null, "value": null}"#), Ok((None, None)));
        assert_eq!(read("{}"), Ok((None, None)));
        assert!(read(r#"{"value": "NaN"}"#).unwrap().1.unwrap().is_nan());
        assert_eq!(read(r#"{"value": "-Infinity"}"#), Ok((None, Some(f64::NEG_INFINITY))));
        for bad in [
            r#"{"step": 1.5}"#,
            r#"{"step": "x"}"#,
            r#"{"step": 18446744073709551615}"#,
            r#"{"value": true}"#,
            r#"{"value": [1]}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }
}

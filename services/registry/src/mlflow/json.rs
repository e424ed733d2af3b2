//! Reading MLflow's protobuf-flavoured JSON: int64 fields as numbers or strings, doubles as
//! numbers or `"NaN"`/`"Infinity"`, repeated fields given once in a query string, and GET
//! parameters in the query string instead of a body.

use actix_web::HttpRequest;
use actix_web::http::Method;
use serde::de::DeserializeOwned;
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
        serde_json::from_slice(body)
            .map_err(|error| MlflowError::invalid(format!("malformed JSON: {error}")))?
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

pub(crate) fn int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            .or_else(|| number.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("{number} is not an integer"))),
        Some(Value::String(text)) => {
            text.trim().parse().map(Some).map_err(|_| D::Error::custom(format!("`{text}` is not an integer")))
        }
        Some(other) => Err(D::Error::custom(format!("{other} is not an integer"))),
    }
}

pub(crate) fn double<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => Ok(number.as_f64()),
        Some(Value::String(text)) => match text.as_str() {
            "NaN" => Ok(Some(f64::NAN)),
            "Infinity" => Ok(Some(f64::INFINITY)),
            "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
            other => other
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("`{text}` is not a number"))),
        },
        Some(other) => Err(D::Error::custom(format!("{other} is not a number"))),
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

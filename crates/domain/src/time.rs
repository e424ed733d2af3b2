use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A UTC instant with microsecond precision, serialized as RFC 3339.
///
/// Microseconds match Parquet/Arrow `timestamp[us]` and PostgreSQL `timestamptz`, so a value
/// survives every store it passes through unchanged.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String, format = DateTime)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_micros(Utc::now().timestamp_micros()).unwrap_or(Self(Utc::now()))
    }

    pub fn from_micros(micros: i64) -> Option<Self> {
        Utc.timestamp_micros(micros).single().map(Self)
    }

    pub fn as_micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    pub fn parse_rfc3339(value: &str) -> Result<Self, chrono::ParseError> {
        let parsed = DateTime::parse_from_rfc3339(value)?.with_timezone(&Utc);
        Ok(Self::from_micros(parsed.timestamp_micros()).unwrap_or(Self(parsed)))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Self::from_micros(value.timestamp_micros()).unwrap_or(Self(value))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_to_microseconds_and_round_trips() {
        let ts = Timestamp::parse_rfc3339("2026-03-03T10:00:00.123456789+02:00").unwrap();
        assert_eq!(ts.to_string(), "2026-03-03T08:00:00.123456Z");
        let now = Timestamp::now();
        assert_eq!(Timestamp::from_micros(now.as_micros()), Some(now));
    }
}

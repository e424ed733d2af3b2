//! Text and JSON values to typed values, by column type.

use cairn_domain::{Column, ColumnType};
use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::{Cell, Value};

/// Parses one CSV field. An empty field is null (as DuckDB and pandas read CSV).
pub fn from_text(text: &str, column: &Column) -> Result<Value, String> {
    Ok(cell_from_text(text, column)?.map_or(Value::Null, Cell::to_value))
}

/// [`from_text`] borrowing the text of string values: none for null.
pub fn cell_from_text<'a>(text: &'a str, column: &Column) -> Result<Option<Cell<'a>>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || not_a(text, &column.column_type);
    let cell = match &column.column_type {
        ColumnType::Bool => Cell::Bool(boolean(text).ok_or_else(bad)?),
        ColumnType::Int32 => Cell::Int(integer::<i32>(text).ok_or_else(bad)?.into()),
        ColumnType::Int64 => Cell::Int(integer(text).ok_or_else(bad)?),
        ColumnType::Float32 | ColumnType::Float64 => Cell::Float(float(text).ok_or_else(bad)?),
        ColumnType::String | ColumnType::Categorical { .. } => Cell::Str(text),
        ColumnType::Timestamp => Cell::Timestamp(timestamp_field(text).ok_or_else(bad)?),
    };
    Ok(Some(cell))
}

/// Why a field's text is not of its column's type.
#[cold]
pub fn not_a(text: &str, column_type: &ColumnType) -> String {
    format!("`{}` is not a {}", shorten(text), column_type.name())
}

/// An integer field: digits with an optional sign, spaces around them allowed.
#[inline]
pub fn integer<T: std::str::FromStr>(text: &str) -> Option<T> {
    trimmed(text).parse().ok()
}

/// A float field: a decimal, an exponent, `inf` or `NaN` as Rust reads them, spaces around
/// allowed. A short plain decimal (most fields) is read digit by digit.
#[inline]
pub fn float(text: &str) -> Option<f64> {
    short_decimal(text).or_else(|| trimmed(text).parse().ok())
}

/// `-123.456`: a sign, at most 19 digits with a point between them and no exponent, whose digits
/// fit in a float's 53-bit mantissa and have at most 22 after the point. The answer is then the
/// digits as an integer divided by a power of ten, both held exactly, rounded once — Clinger's
/// fast path, which the standard parser also takes for such numbers after its general scan, so
/// both give the same float. None for anything else.
#[inline]
fn short_decimal(text: &str) -> Option<f64> {
    const POWERS: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
        1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    let whole = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    let fraction = match &digits[whole..] {
        [] => &[][..],
        [b'.', fraction @ ..] if !fraction.is_empty() => fraction,
        _ => return None,
    };
    if whole == 0 || whole + fraction.len() > 19 || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut mantissa = 0u64;
    for digit in digits[..whole].iter().chain(fraction) {
        mantissa = mantissa * 10 + u64::from(digit - b'0');
    }
    if mantissa > 1 << 53 || fraction.len() >= POWERS.len() {
        return None;
    }
    let value = mantissa as f64 / POWERS[fraction.len()];
    Some(if negative { -value } else { value })
}

/// A timestamp field: [`timestamp`], spaces around allowed.
#[inline]
pub fn timestamp_field(text: &str) -> Option<i64> {
    timestamp(trimmed(text))
}

/// `text` without the spaces around it; checked at both ends first, as a field rarely has any.
#[inline]
fn trimmed(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        [only] if only.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// A boolean field: `true`, `t`, `1`, `yes`, `y` or their negations, in any case.
pub fn boolean(text: &str) -> Option<bool> {
    const TRUE: [&str; 5] = ["true", "t", "1", "yes", "y"];
    const FALSE: [&str; 5] = ["false", "f", "0", "no", "n"];
    if TRUE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(true)
    } else if FALSE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(false)
    } else {
        None
    }
}

/// Converts one JSON value. JSON types must fit the column: a number for a string column is an
/// error, not silently converted.
pub fn from_json(value: &serde_json::Value, column: &Column) -> Result<Value, String> {
    use serde_json::Value as J;
    let bad = || format!("{} is not a {}", shorten(&value.to_string()), column.column_type.name());
    match (&column.column_type, value) {
        (_, J::Null) => Ok(Value::Null),
        (ColumnType::Bool, J::Bool(v)) => Ok(Value::Bool(*v)),
        (ColumnType::Int32, J::Number(n)) => {
            n.as_i64().and_then(|v| i32::try_from(v).ok()).map(|v| Value::Int(v.into())).ok_or_else(bad)
        }
        (ColumnType::Int64, J::Number(n)) => n.as_i64().map(Value::Int).ok_or_else(bad),
        (ColumnType::Float32 | ColumnType::Float64, J::Number(n)) => {
            n.as_f64().map(Value::Float).ok_or_else(bad)
        }
        (ColumnType::String | ColumnType::Categorical { .. }, J::String(s)) => Ok(Value::Str(s.clone())),
        (ColumnType::Timestamp, J::String(s)) => timestamp(s).map(Value::Timestamp).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// RFC 3339, `YYYY-MM-DD HH:MM:SS[.fff]` or `YYYY-MM-DDTHH:MM:SS[.fff]` (UTC), or a date
/// (midnight UTC), as microseconds since the epoch.
pub fn timestamp(text: &str) -> Option<i64> {
    if let Some(micros) = iso_utc(text) {
        return Some(micros);
    }
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        return Some(parsed.timestamp_micros());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(parsed) = NaiveDateTime::parse_from_str(text, format) {
            return Some(parsed.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc().timestamp_micros())
}

/// The usual shape, `YYYY-MM-DDTHH:MM:SS[.fraction][Z]` (or with a space and no `Z`), read
/// digit by digit: a general parser costs several times more, and CSV holds one per row. None
/// for anything else, which the general parsers then decide.
fn iso_utc(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0i64, |n, c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let mut rest = &b[19..];
    let mut micros = 0;
    if let [b'.', fraction @ ..] = rest {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        micros = fraction[..digits.min(6)].iter().fold(0, |n, c| n * 10 + i64::from(c - b'0'));
        micros *= 10i64.pow(6u32.saturating_sub(digits as u32));
        rest = &fraction[digits..];
    }
    match (b[10], rest) {
        (b'T', [] | [b'Z']) | (b' ', []) => {}
        _ => return None,
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=month_days).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000 + micros)
}

/// Values quoted in messages are cut, so an error never carries a whole payload.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(json: &str) -> Column {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn text_is_parsed_by_type() {
        let int32 = column(r#"{"name":"a","type":"int32"}"#);
        assert_eq!(from_text("42", &int32), Ok(Value::Int(42)));
        assert!(from_text("3000000000", &int32).is_err(), "out of range for int32");
        assert_eq!(from_text("", &int32), Ok(Value::Null));
        let boolean = column(r#"{"name":"a","type":"bool"}"#);
        assert_eq!(from_text("Yes", &boolean), Ok(Value::Bool(true)));
        let ts = column(r#"{"name":"a","type":"timestamp"}"#);
        assert_eq!(from_text("1970-01-01T00:00:01Z", &ts), Ok(Value::Timestamp(1_000_000)));
        assert_eq!(from_text("1970-01-01 00:00:00.5", &ts), Ok(Value::Timestamp(500_000)));
        assert_eq!(from_text("1970-01-02", &ts), Ok(Value::Timestamp(86_400_000_000)));
        let error = from_text("soon", &ts).unwrap_err();
        assert_eq!(error, "`soon` is not a timestamp");
    }

    /// The timestamp parser without its fast path.
    fn general(text: &str) -> Option<i64> {
        if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
            return Some(parsed.timestamp_micros());
        }
        ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .map(|parsed| parsed.and_utc().timestamp_micros())
    }

    proptest::proptest! {
        #[test]
        fn the_fast_timestamp_path_agrees_with_the_general_parsers(
            year in 0u32..10_000, month in 0u32..14, day in 0u32..33, hour in 0u32..25, minute in 0u32..61,
            second in 0u32..61, fraction in proptest::option::of("[0-9]{0,10}"),
            separator in proptest::sample::select(vec!['T', ' ', 't', 'x']),
            zone in proptest::sample::select(vec!["", "Z", "z", "+00:00", "+02:30", " "]),
        ) {
            let fraction = fraction.map(|digits| format!(".{digits}")).unwrap_or_default();
            let text =
                format!("{year:04}-{month:02}-{day:02}{separator}{hour:02}:{minute:02}:{second:02}{fraction}{zone}");
            if let Some(fast) = iso_utc(&text) {
                proptest::prop_assert_eq!(Some(fast), general(&text), "{}", text);
            }
            proptest::prop_assert_eq!(timestamp(&text), general(&text), "{}", text);
        }
    }

    proptest::proptest! {
        #[test]
        fn short_decimals_read_as_the_standard_parser_reads_them(
            sign in proptest::sample::select(vec!["", "-", "+", " ", "--"]),
            whole in "[0-9]{0,20}", point in proptest::bool::ANY, fraction in "[0-9]{0,24}",
            tail in proptest::sample::select(vec!["", "e5", " ", "x", "."]),
        ) {
            let text = format!("{sign}{whole}{}{fraction}{tail}", if point { "." } else { "" });
            let standard = text.trim().parse::<f64>().ok();
            proptest::prop_assert_eq!(float(&text).map(f64::to_bits), standard.map(f64::to_bits), "{}", text);
            if let Some(fast) = short_decimal(&text) {
                proptest::prop_assert_eq!(Some(fast.to_bits()), standard.map(f64::to_bits), "{}", text);
            }
        }
    }

    #[test]
    fn usual_numbers_take_the_fast_path_and_others_the_standard_parser() {
        for (text, value) in
            [("3333.33", 3333.33), ("-0.0909", -0.0909), ("7", 7.0), ("9007199254740992", 9007199254740992.0)]
        {
            assert_eq!(short_decimal(text), Some(value), "{text}");
        }
        assert_eq!(short_decimal("-0").map(f64::to_bits), Some((-0.0f64).to_bits()));
        for text in
            ["1.", ".5", "+1", " 1", "1e3", "9007199254740993", "0.00000000000000000000001", "inf", "1..2"]
        {
            assert_eq!(short_decimal(text), None, "{text}");
        }
        assert_eq!(float(" 1e3 "), Some(1000.0));
        assert_eq!(float("9007199254740993"), Some(9007199254740992.0), "rounded to even, as Rust does");
        assert_eq!(integer::<i32>(" -12\t"), Some(-12));
        assert_eq!(integer::<i32>("3000000000"), None);
        assert_eq!((trimmed("a"), trimmed(" a "), trimmed("\u{3000}1")), ("a", "a", "1"));
    }

    #[test]
    fn usual_timestamps_take_the_fast_path() {
        assert_eq!(iso_utc("2026-02-01T10:20:30Z"), general("2026-02-01T10:20:30Z"));
        assert_eq!(iso_utc("1969-12-31T23:59:59.9999999"), Some(-1));
        assert_eq!(iso_utc("2024-02-29 00:00:00.5"), general("2024-02-29 00:00:00.5"));
        assert!(iso_utc("2024-02-29 00:00:00.5").is_some() && iso_utc("2023-02-29T00:00:00Z").is_none());
    }

    #[test]
    fn json_types_must_fit_the_column() {
        let string = column(r#"{"name":"a","type":"string"}"#);
        assert!(from_json(&serde_json::json!(5), &string).is_err());
        let int64 = column(r#"{"name":"a","type":"int64"}"#);
        assert!(from_json(&serde_json::json!(1.5), &int64).is_err());
        assert_eq!(from_json(&serde_json::json!(-7), &int64), Ok(Value::Int(-7)));
        let float = column(r#"{"name":"a","type":"float32"}"#);
        assert_eq!(from_json(&serde_json::json!(2), &float), Ok(Value::Float(2.0)));
    }
}

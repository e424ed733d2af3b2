//! The decoders take arbitrary bytes without panicking, and read back what was written.
#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

use cairn_domain::Schema;
use cairn_records::{
    ChunkDecoder, CsvDecoder, CsvHeader, DecodeError, JsonLinesDecoder, Numbered, Validator, Value,
};
use proptest::prelude::*;

fn schema() -> Schema {
    serde_json::from_value(serde_json::json!({
        "columns": [
            {"name": "id", "type": "int64", "nullable": false},
            {"name": "ts", "type": "timestamp", "nullable": false},
            {"name": "x", "type": "float32", "rules": {"min": -1e3, "max": 1e3}},
            {"name": "flag", "type": "bool"},
            {"name": "s", "type": "string", "rules": {"regex": "[a-z]*"}},
            {"name": "small", "type": "int32"},
            {"name": "c", "type": "categorical", "values": ["a", "b"]}
        ],
        "event_timestamp": "ts",
        "entity_keys": ["id"],
        "unique_key": true
    }))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn csv_decoding_never_panics(header in "(id|ts|x|flag|s|small|c|zz)(,(id|ts|x|flag|s|small|c|zz)){0,6}", body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let schema = schema();
        let mut input = header.into_bytes();
        input.push(b'\n');
        input.extend(body);
        if let Ok(decoder) = CsvDecoder::new(input.as_slice(), &schema) {
            let mut validator = Validator::new(&schema);
            for item in decoder {
                match item {
                    Ok((_, record)) => { validator.check(&record); }
                    Err(error) => { prop_assert!(error.line >= 1); break; }
                }
            }
        }
    }

    #[test]
    fn json_lines_decoding_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        for item in JsonLinesDecoder::new(body.as_slice(), &schema()) {
            if item.is_err() { break; }
        }
    }

    #[test]
    fn json_lines_decoding_never_panics_on_json_like_input(line in r#"\{("(id|ts|x|flag|s|small|c)": ?(-?[0-9]{1,20}(\.[0-9]+)?|"[^"\\]{0,12}"|true|null|\[\]),? ?){0,7}\}"#) {
        for item in JsonLinesDecoder::new(line.as_bytes(), &schema()) {
            if item.is_err() { break; }
        }
    }

    #[test]
    fn csv_reads_back_what_was_written(rows in proptest::collection::vec((any::<i64>(), 0i64..4_000_000_000_000_000, any::<i32>(), "[a-z ,\"]{0,8}"), 1..40)) {
        let mut csv = String::from("id,ts,small,s\n");
        for (id, ts, small, s) in &rows {
            let ts = cairn_domain::Timestamp::from_micros(*ts).unwrap();
            csv.push_str(&format!("{id},{ts},{small},\"{}\"\n", s.replace('"', "\"\"")));
        }
        let decoded: Vec<_> = CsvDecoder::new(csv.as_bytes(), &schema()).unwrap().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(decoded.len(), rows.len());
        for ((_, record), (id, ts, small, s)) in decoded.iter().zip(&rows) {
            prop_assert_eq!(&record[0], &Value::Int(*id));
            prop_assert_eq!(&record[1], &Value::Timestamp(*ts));
            prop_assert_eq!(&record[5], &Value::Int(i64::from(*small)));
            let expected = if s.is_empty() { Value::Null } else { Value::Str(s.clone()) };
            prop_assert_eq!(&record[4], &expected);
        }
    }

    /// A chunk without quotes takes the quick path; whatever it holds, the answers (records, the
    /// first error) are the general reader's, and so are the lines where the csv crate counts
    /// them right: it numbers the first record after blank lines by the first blank's line, and
    /// a record after CRLF at the end of the input by the line before (rust-csv#208); the quick
    /// path counts lines itself (unit tests check). `~` stands for a byte that is not UTF-8.
    /// Half the cases are made of what the quick path takes (no quote, no lone carriage return,
    /// only UTF-8), so that path is exercised on purpose and checked to have run.
    #[test]
    fn chunks_decode_alike_on_the_quick_path_and_the_general_reader(
        (plain, lines) in any::<bool>().prop_flat_map(|plain| {
            let field = if plain {
                "(-?[0-9]{1,3}|2026-01-0[1-9]|[0-9]\\.[0-9]|true|x|[a-z]{0,3}| 7 |\u{e9}|)"
            } else {
                "(-?[0-9]{1,3}|2026-01-0[1-9]|[0-9]\\.[0-9]|true|x|[a-z]{0,3}| 7 |~|\"q\"|\u{e9}|)"
            };
            let ending = if plain { "(\n|\n|\r\n)" } else { "(\n|\n|\n|\r\n|\r|)" };
            let line = (proptest::collection::vec(field, 0..7), ending);
            (Just(plain), proptest::collection::vec(line, 0..24))
        }),
        header in "(id,ts|ts,id,flag|id,ts,x,flag,s|s,ts,id)",
    ) {
        let schema = schema();
        let header = CsvHeader::parse(header.as_bytes(), &schema).unwrap();
        let mut chunk = Vec::new();
        for (fields, ending) in lines.iter().filter(|(fields, _)| !fields.concat().is_empty()) {
            chunk.extend(fields.join(",").bytes().map(|b| if b == b'~' { 0xff } else { b }));
            chunk.extend(ending.bytes());
        }
        let numbered = !chunk.contains(&b'\r');
        let answers = |decoder: &mut dyn Iterator<Item = Result<Numbered, DecodeError>>| {
            decoder
                .map(|item| match item {
                    Ok((line, record)) => Ok((numbered.then_some(line), record)),
                    Err(error) => Err((numbered.then_some(error.line), error.column, error.message)),
                })
                .collect::<Vec<_>>()
        };
        let mut decoder = ChunkDecoder::new(&chunk, &header, 7);
        if plain {
            prop_assert!(decoder.is_quick(), "a plain chunk takes the quick path: {:?}", String::from_utf8_lossy(&chunk));
        }
        let quick = answers(&mut decoder);
        let general = answers(&mut CsvDecoder::chunk(chunk.as_slice(), &header, 7));
        prop_assert_eq!(quick, general);
    }
}

//! Metric history packed in chunks: the points one request logged for one key, as one value
//! (see the `metric_chunks` migration for the layout and why).

use std::collections::HashMap;

use cairn_db::DbError;
use sha2::{Digest, Sha256};

use super::{Metric, TrackingError};

/// The layout of the packed points; the first byte of every chunk.
const FORMAT: u8 = 1;
const POINT: usize = 24;

/// One key's points from a batch, packed, with the digest that makes a retried batch a no-op
/// and the key's latest point in the batch.
pub(crate) struct Chunk<'a> {
    pub key: &'a str,
    pub points: usize,
    pub data: Vec<u8>,
    pub digest: Vec<u8>,
    /// The highest step, then timestamp, then value (NaN counting as 0, as `latest_metrics`
    /// stores it).
    pub latest: &'a Metric,
}

/// A value as `latest_metrics` stores it: NaN as 0 beside an `is_nan` flag (SQLite turns a NaN
/// REAL into NULL).
pub(crate) fn stored_value(value: f64) -> f64 {
    if value.is_nan() { 0.0 } else { value }
}

/// The batch's points grouped by key, in the order the keys first appear.
pub(crate) fn pack(metrics: &[Metric]) -> Vec<Chunk<'_>> {
    let order = |m: &Metric| (m.step, m.timestamp, stored_value(m.value));
    let mut chunks: Vec<Chunk<'_>> = Vec::new();
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    for metric in metrics {
        let index = *index_of.entry(&metric.key).or_insert_with(|| {
            chunks.push(Chunk {
                key: &metric.key,
                points: 0,
                data: vec![FORMAT],
                digest: Vec::new(),
                latest: metric,
            });
            chunks.len() - 1
        });
        let chunk = &mut chunks[index];
        chunk.points += 1;
        chunk.data.extend_from_slice(&metric.step.to_le_bytes());
        chunk.data.extend_from_slice(&metric.timestamp.to_le_bytes());
        chunk.data.extend_from_slice(&metric.value.to_le_bytes());
        if order(metric) > order(chunk.latest) {
            chunk.latest = metric;
        }
    }
    for chunk in &mut chunks {
        chunk.digest = Sha256::digest(&chunk.data).to_vec();
    }
    chunks
}

/// Appends the points of a stored chunk of `key` to `out`.
pub(crate) fn unpack(key: &str, data: &[u8], out: &mut Vec<Metric>) -> Result<(), TrackingError> {
    let corrupt =
        || TrackingError::Database(DbError::Corrupt(format!("a stored chunk of metric `{key}` is damaged")));
    let (&format, points) = data.split_first().ok_or_else(corrupt)?;
    if format != FORMAT || points.len() % POINT != 0 {
        return Err(corrupt());
    }
    // A point is three little-endian words: step, timestamp, value.
    let (words, _) = points.as_chunks::<8>();
    out.extend(words.chunks_exact(3).map(|point| Metric {
        key: key.to_owned(),
        step: i64::from_le_bytes(point[0]),
        timestamp: i64::from_le_bytes(point[1]),
        value: f64::from_le_bytes(point[2]),
    }));
    Ok(())
}

/// Sorts a history by step, timestamp and value, and keeps each identical point once.
pub(crate) fn normalize(points: &mut Vec<Metric>) {
    points
        .sort_by(|a, b| (a.step, a.timestamp).cmp(&(b.step, b.timestamp)).then(a.value.total_cmp(&b.value)));
    points.dedup_by(|a, b| {
        (a.step, a.timestamp, a.value.to_bits()) == (b.step, b.timestamp, b.value.to_bits())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(key: &str, step: i64, timestamp: i64, value: f64) -> Metric {
        Metric { key: key.to_owned(), value, timestamp, step }
    }

    #[test]
    fn points_survive_packing_bit_for_bit() {
        let metrics = vec![
            point("loss", 0, 1, 0.5),
            point("acc", 0, 1, f64::NAN),
            point("loss", -3, i64::MAX, f64::NEG_INFINITY),
            point("acc", i64::MIN, -1, -0.0),
        ];
        let chunks = pack(&metrics);
        assert_eq!(
            chunks.iter().map(|chunk| (chunk.key, chunk.points)).collect::<Vec<_>>(),
            [("loss", 2), ("acc", 2)]
        );
        // The latest point: the higher step wins; NaN counts as 0 against -0.0 at the same step.
        assert_eq!(chunks[0].latest.step, 0);
        assert!(chunks[1].latest.value.is_nan());
        let mut out = Vec::new();
        for chunk in &chunks {
            unpack(chunk.key, &chunk.data, &mut out).unwrap();
        }
        let bits = |points: &[Metric]| {
            points.iter().map(|p| (p.key.clone(), p.step, p.timestamp, p.value.to_bits())).collect::<Vec<_>>()
        };
        let expected = [&metrics[0], &metrics[2], &metrics[1], &metrics[3]].map(Clone::clone);
        assert_eq!(bits(&out), bits(&expected));
    }

    #[test]
    fn the_same_points_give_the_same_digest() {
        let digest = |value: f64| pack(&[point("loss", 1, 2, value)])[0].digest.clone();
        assert_eq!(digest(0.25), digest(0.25));
        assert_ne!(digest(0.25), digest(0.5));
    }

    #[test]
    fn a_damaged_chunk_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        assert!(unpack("loss", &[], &mut out).is_err());
        assert!(unpack("loss", &[FORMAT, 1, 2, 3], &mut out).is_err());
        assert!(unpack("loss", &[9; 25], &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn history_is_ordered_and_each_point_kept_once() {
        let mut points = vec![
            point("m", 2, 0, 1.0),
            point("m", 1, 5, 3.0),
            point("m", 1, 5, 2.0),
            point("m", 2, 0, 1.0),
            point("m", 1, 5, f64::NAN),
            point("m", 1, 5, f64::NAN),
        ];
        normalize(&mut points);
        let seen: Vec<_> = points.iter().map(|p| (p.step, p.timestamp, p.value)).collect();
        assert_eq!(seen.len(), 4);
        assert_eq!(&seen[..2], &[(1, 5, 2.0), (1, 5, 3.0)]);
        assert!(seen[2].2.is_nan());
        assert_eq!(seen[3], (2, 0, 1.0));
    }
}

//! Streaming ingestion: records published on `cairn.ingest.<dataset>` (by producers on NATS or
//! through `POST …/records`) land in the offline store in micro-batches. A micro-batch's files,
//! its batch rows and the reader's stream position commit in one transaction; the reader starts
//! from that position, and a record at or below it is skipped, so a crash anywhere never loses
//! or duplicates a row. Committed records are purged from the stream once the stream's duplicate
//! window has passed (`purger.rs`).

mod publish;
mod purger;
mod reader;
mod snapshot;

use bytes::Bytes;
use cairn_bus::RawDelivery;

pub use publish::publish;
pub(crate) use reader::follow;
pub(crate) use snapshot::schedule_snapshots;
pub use snapshot::snapshot;

/// The content type of a message holding several records, one per line.
const JSON_LINES: &str = "application/x-ndjson";

/// The records of a streamed message: its non-blank lines when it is JSON Lines, else the
/// message whole (one JSON object, which may span lines).
fn records_of(delivery: &RawDelivery) -> impl Iterator<Item = Bytes> + '_ {
    let lines = delivery.content_type.as_deref() == Some(JSON_LINES);
    let payload = &delivery.payload;
    payload
        .split(move |b| lines && *b == b'\n')
        .filter(
            move |record| {
                if lines { !record.iter().all(u8::is_ascii_whitespace) } else { !record.is_empty() }
            },
        )
        .map(|record| payload.slice_ref(record))
}

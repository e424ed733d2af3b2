//! Publishing records to a dataset's stream, packed into few messages.

use bytes::Bytes;
use cairn_events::topology::ingest_subject;
use sha2::{Digest, Sha256};

use super::JSON_LINES;
use crate::batches::BatchError;
use crate::{Ingestion, datasets};

/// How `POST …/records` packs records into messages: JSON Lines, at most this many records...
const RECORDS_PER_MESSAGE: usize = 1000;
/// ...and about this many bytes (NATS refuses a message over its `max_payload`, 1 MiB by default).
const BYTES_PER_MESSAGE: usize = 512 * 1024;

/// Publishes records (JSON objects) of `dataset` to its stream, packed as JSON Lines into few
/// messages: one JetStream acknowledgement per record would cap a stream near the bus's message
/// rate. Returns once JetStream stored them all, with how many were duplicates. A message's
/// idempotency key is derived from `key` and the position of its first record, or without
/// `key` from its content, so a retried request packs the same messages and stores none twice.
pub async fn publish(
    ingestion: &Ingestion,
    dataset: &str,
    key: Option<&str>,
    records: Vec<Bytes>,
) -> Result<(usize, usize), BatchError> {
    let declared = datasets::get(&ingestion.context, dataset.to_owned()).await?;
    let count = records.len();
    let mut messages = Vec::new();
    let mut sizes = Vec::new();
    let mut start = 0;
    while start < count {
        let mut end = start;
        let mut payload = Vec::new();
        while end < count
            && end - start < RECORDS_PER_MESSAGE
            && (end == start || payload.len() + records[end].len() < BYTES_PER_MESSAGE)
        {
            if end > start {
                payload.push(b'\n');
            }
            payload.extend_from_slice(&records[end]);
            end += 1;
        }
        let id = match key {
            Some(key) => format!("{key}-{start}"),
            None => cairn_storage::hex(
                &Sha256::new().chain_update(declared.name.as_str()).chain_update(&payload).finalize(),
            ),
        };
        messages.push((id, Bytes::from(payload)));
        sizes.push(end - start);
        start = end;
    }
    let duplicate = ingestion
        .context
        .bus
        .publish_records(&ingest_subject(declared.name.as_str()), JSON_LINES, messages)
        .await
        .map_err(|error| BatchError::Unavailable(error.to_string()))?;
    let duplicates = sizes.iter().zip(duplicate).filter(|(_, duplicate)| *duplicate).map(|(n, _)| n).sum();
    Ok((count, duplicates))
}

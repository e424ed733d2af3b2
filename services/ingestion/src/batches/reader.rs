//! Feeding an async upload to the synchronous decoders, and telling an upload that broke off
//! from input that does not decode.

use std::io::Read;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cairn_records::DecodeError;
use tokio::sync::mpsc;

use super::BatchError;

/// A read error is the upload failing, if it did; otherwise the input is unreadable.
pub(super) fn read_error(upload: &UploadFailure, error: DecodeError) -> BatchError {
    match upload.take() {
        Some(reason) => BatchError::Upload(reason),
        None => BatchError::Unreadable(error),
    }
}

/// Why the upload itself broke off, if it did (as opposed to its content being unreadable).
#[derive(Clone, Default)]
pub(super) struct UploadFailure(Arc<Mutex<Option<String>>>);

impl UploadFailure {
    pub(super) fn set(&self, reason: String) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(reason);
        }
    }

    pub(super) fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Feeds the async upload to the synchronous decoders, a chunk at a time.
pub(super) struct ChannelReader {
    pub(super) receiver: mpsc::Receiver<Result<Bytes, String>>,
    pub(super) current: Bytes,
    pub(super) failure: UploadFailure,
}

impl Read for ChannelReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(reason)) => {
                    self.failure.set(reason.clone());
                    return Err(std::io::Error::other(reason));
                }
                None => return Ok(0),
            }
        }
        let n = buffer.len().min(self.current.len());
        buffer[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

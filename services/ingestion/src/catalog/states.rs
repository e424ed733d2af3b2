//! The states of batches and their files, as the metadata database stores them.

use cairn_db::DbError;

use super::corrupt;

/// The states a batch goes through (`batches.state`, and `state` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchState {
    /// Arriving: nothing of it is visible, and a restart aborts it.
    Receiving,
    /// Its records are visible: in its version, or (streamed records) in the next snapshot.
    Committed,
    /// Too many records quarantined: only the quarantine was kept, for inspection.
    Failed,
    /// Unreadable input, or keys a concurrent batch committed first: nothing was kept.
    Rejected,
    /// Interrupted by a restart: nothing was kept.
    Aborted,
}

impl BatchState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BatchState::Receiving => "receiving",
            BatchState::Committed => "committed",
            BatchState::Failed => "failed",
            BatchState::Rejected => "rejected",
            BatchState::Aborted => "aborted",
        }
    }

    /// A stored state; one Cairn never writes means the row was damaged.
    pub(crate) fn parse(stored: &str) -> Result<Self, DbError> {
        [
            BatchState::Receiving,
            BatchState::Committed,
            BatchState::Failed,
            BatchState::Rejected,
            BatchState::Aborted,
        ]
        .into_iter()
        .find(|state| state.as_str() == stored)
        .ok_or_else(|| corrupt("batch state", format!("unknown state `{stored}`")))
    }
}

/// The states of a batch's file (`batch_files.state`): recorded before its upload, so that a
/// crash leaves a trace to clean up, and committed with its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileState {
    Pending,
    Committed,
}

impl FileState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FileState::Pending => "pending",
            FileState::Committed => "committed",
        }
    }
}

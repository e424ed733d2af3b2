#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS at {url} within {seconds}s: {reason}")]
    Connect { url: String, seconds: u64, reason: String },
    #[error("cannot read NATS credentials or TLS files: {0}")]
    Credentials(String),
    #[error("JetStream stream {stream}: {reason}")]
    Stream { stream: String, reason: String },
    #[error("JetStream consumer {consumer}: {reason}")]
    Consumer { consumer: String, reason: String },
    #[error("no stream captures subject {0}; declare it in cairn-events topology")]
    NoStream(String),
    #[error("publish to {subject} was not acknowledged: {reason}")]
    Publish { subject: String, reason: String },
}

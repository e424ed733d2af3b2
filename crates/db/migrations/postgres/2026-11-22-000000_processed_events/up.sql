-- Events a durable consumer has applied, so redelivery never applies one twice.
CREATE TABLE processed_events (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Events written in the same transaction as the state change they describe, until published.
CREATE TABLE outbox (
    event_id TEXT PRIMARY KEY NOT NULL,
    subject TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload BYTEA NOT NULL,
    traceparent TEXT,
    created_at BIGINT NOT NULL
);

-- Metric history in chunks: the points one request logged for one key, packed into one value
-- (a format byte, then 24 bytes per point: step, timestamp in ms, value as IEEE 754 bits, each
-- little-endian). A thousand points cost ten rows instead of a thousand index entries, at a
-- third of the size. The digest of the packed points makes a retried request a no-op; points
-- repeated across requests are folded when the history is read, as MLflow stores a point once.
-- Points logged before this table existed stay in `metrics` and are read from there as well.
CREATE TABLE metric_chunks (
    run_uuid TEXT NOT NULL REFERENCES runs,
    key TEXT NOT NULL,
    digest BLOB NOT NULL,
    points BIGINT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_uuid, key, digest)
);

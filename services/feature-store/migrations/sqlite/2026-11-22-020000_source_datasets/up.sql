-- Datasets announced by the ingestion service, as the feature store knows them.
CREATE TABLE source_datasets (
    name TEXT PRIMARY KEY NOT NULL,
    schema_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- The event that told us, and the trace it belongs to (lineage and debugging).
    event_id TEXT NOT NULL,
    trace_id TEXT
);

-- The Parquet files ingested batches added to source datasets (from `cairn.datasets.batch_ingested`):
-- what materialization reads. `sequence` orders them as they were ingested; the event times are
-- the batch's range.
CREATE TABLE source_files (
    dataset TEXT NOT NULL,
    path TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    min_event_micros BIGINT NOT NULL,
    max_event_micros BIGINT NOT NULL,
    PRIMARY KEY (dataset, path)
);
-- Feature view versions in the online store, and where their last materialization ended.
CREATE TABLE online_views (
    view TEXT NOT NULL,
    version BIGINT NOT NULL,
    watermark_micros BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (view, version)
);
CREATE TABLE materializations (
    id TEXT PRIMARY KEY NOT NULL,
    view TEXT NOT NULL,
    version BIGINT NOT NULL,
    start_micros BIGINT,
    end_micros BIGINT NOT NULL,
    state TEXT NOT NULL,
    files BIGINT NOT NULL,
    files_read BIGINT NOT NULL,
    rows_read BIGINT NOT NULL,
    entities BIGINT NOT NULL,
    rows_written BIGINT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX materializations_by_view ON materializations (view, created_at);

-- One row per ingestion batch; `state` is receiving → committed | failed | rejected | aborted.
CREATE TABLE batches (
    id TEXT PRIMARY KEY NOT NULL,
    dataset TEXT NOT NULL,
    state TEXT NOT NULL,
    format TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    finished_at BIGINT,
    version BIGINT,
    report_json TEXT,
    error TEXT
);
CREATE INDEX batches_by_dataset ON batches (dataset, received_at);

-- Every file a batch wrote to the offline store. `pending` until its batch commits, so files
-- of a batch interrupted mid-way can be found and removed.
CREATE TABLE batch_files (
    path TEXT PRIMARY KEY NOT NULL,
    batch_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    area TEXT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT,
    rows BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    min_event_micros BIGINT NOT NULL,
    max_event_micros BIGINT NOT NULL
);
CREATE INDEX batch_files_by_version ON batch_files (dataset, area, state, version);
CREATE INDEX batch_files_by_batch ON batch_files (batch_id);

-- Immutable dataset versions: version N is every committed data file of versions 1..N.
CREATE TABLE dataset_versions (
    dataset TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    batch_id TEXT,
    schema_json TEXT NOT NULL,
    PRIMARY KEY (dataset, version)
);

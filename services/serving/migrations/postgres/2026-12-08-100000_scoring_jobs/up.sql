-- Batch scoring jobs: a model version scoring a dataset version into a new version of `output`.
-- `updated_at` is the running replica's heartbeat: a job it has not touched for a minute is
-- taken over by another replica (or the same one, restarted).
CREATE TABLE scoring_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    dataset TEXT NOT NULL,
    dataset_version BIGINT NOT NULL,
    output TEXT NOT NULL,
    state TEXT NOT NULL,
    rows_total BIGINT NOT NULL,
    rows_scored BIGINT NOT NULL,
    output_version BIGINT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX scoring_jobs_state ON scoring_jobs (state, updated_at);

-- Experiment tracking, MLflow's model: times are milliseconds since the epoch.
CREATE TABLE experiments (
    experiment_id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL
);
-- Experiment 0, "Default", always exists (MLflow clients rely on it).
INSERT INTO experiments VALUES (
    0, 'Default', 'mlflow-artifacts:/0', 'active',
    (extract(epoch FROM now()) * 1000)::BIGINT, (extract(epoch FROM now()) * 1000)::BIGINT
);
CREATE INDEX experiments_by_creation ON experiments (creation_time DESC, experiment_id);

CREATE TABLE experiment_tags (
    experiment_id BIGINT NOT NULL REFERENCES experiments,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
);

CREATE TABLE runs (
    run_uuid TEXT PRIMARY KEY NOT NULL,
    experiment_id BIGINT NOT NULL REFERENCES experiments,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT,
    lifecycle_stage TEXT NOT NULL,
    artifact_uri TEXT NOT NULL,
    deleted_time BIGINT
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time DESC, run_uuid);

CREATE TABLE params (
    run_uuid TEXT NOT NULL REFERENCES runs,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);

CREATE TABLE tags (
    run_uuid TEXT NOT NULL REFERENCES runs,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);

-- Every metric point. Identical points (a retried request) are stored once. NaN is stored as 0
-- with is_nan set, so both backends keep it (SQLite turns a NaN REAL into NULL).
CREATE TABLE metrics (
    run_uuid TEXT NOT NULL REFERENCES runs,
    key TEXT NOT NULL,
    step BIGINT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    is_nan BOOLEAN NOT NULL,
    PRIMARY KEY (run_uuid, key, step, timestamp_ms, value, is_nan)
);

-- The latest point of each metric of a run (highest step, then timestamp, then value): what
-- runs show and what searches filter and sort on, without scanning the history.
CREATE TABLE latest_metrics (
    run_uuid TEXT NOT NULL REFERENCES runs,
    key TEXT NOT NULL,
    step BIGINT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    is_nan BOOLEAN NOT NULL,
    PRIMARY KEY (run_uuid, key)
);
CREATE INDEX latest_metrics_by_value ON latest_metrics (key, value);

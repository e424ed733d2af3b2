-- Where the prediction-log reader stands: the next stream sequence of CAIRN_PREDICTIONS to read,
-- written in the same transaction as the windows it moved, so a restart neither counts a
-- prediction twice nor misses one.
CREATE TABLE monitor_position (
    reader TEXT PRIMARY KEY NOT NULL,
    next_sequence BIGINT NOT NULL
);
-- Each model version's reference (its features' distributions in its training data), as JSON.
CREATE TABLE monitor_references (
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    reference TEXT NOT NULL,
    built_at BIGINT NOT NULL,
    PRIMARY KEY (model, version)
);
-- The window each endpoint's model version is filling, as JSON (counts, never the rows).
CREATE TABLE monitor_open_windows (
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    window_state TEXT NOT NULL,
    PRIMARY KEY (endpoint, model, version)
);
-- Closed windows, judged: the report as JSON (cairn-api MonitorWindow).
CREATE TABLE monitor_windows (
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    number BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT NOT NULL,
    predictions BIGINT NOT NULL,
    dataset_drift BIGINT NOT NULL,
    report TEXT NOT NULL,
    PRIMARY KEY (endpoint, model, version, number)
);
CREATE INDEX monitor_windows_by_endpoint ON monitor_windows (endpoint, ended_at);

-- Predictions of endpoints with a feedback dataset, one row per predicted row, kept to join the
-- ground truth that arrives later: its score (the positive class's probability, or the
-- regressor's value), and once labelled the truth and the KPI columns (JSON).
CREATE TABLE monitor_predictions (
    endpoint TEXT NOT NULL,
    request_id TEXT NOT NULL,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    window_number BIGINT NOT NULL,
    answered_at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    score DOUBLE PRECISION,
    label DOUBLE PRECISION,
    kpis TEXT,
    labelled_at BIGINT,
    PRIMARY KEY (endpoint, request_id)
);
CREATE INDEX monitor_predictions_by_window ON monitor_predictions (endpoint, model, version, window_number);
-- Each window's live metrics on the labels it has so far (JSON), and whether its degradation was
-- announced.
CREATE TABLE monitor_performance (
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    window_number BIGINT NOT NULL,
    labelled BIGINT NOT NULL,
    report TEXT NOT NULL,
    degraded_announced BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (endpoint, model, version, window_number)
);
-- Every feedback dataset version joined: its rows, how many named a logged prediction, how many
-- did not (unknown request ids: counted and reported, never an error).
CREATE TABLE monitor_feedback (
    dataset TEXT NOT NULL,
    version BIGINT NOT NULL,
    endpoint TEXT NOT NULL,
    rows_read BIGINT NOT NULL,
    matched BIGINT NOT NULL,
    unknown BIGINT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (dataset, version, endpoint)
);

-- Run search visits every run of the experiment until a page of matches is found (about ten
-- thousand rows for a 10% filter over 100k runs). These indexes let each visit read the index
-- alone: the run's stage beside its order, the metric's value beside its key.
DROP INDEX runs_by_experiment;
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time DESC, run_uuid) INCLUDE (lifecycle_stage);
ALTER TABLE latest_metrics DROP CONSTRAINT latest_metrics_pkey;
ALTER TABLE latest_metrics ADD PRIMARY KEY (run_uuid, key) INCLUDE (value, is_nan);
DROP INDEX latest_metrics_by_value;
CREATE INDEX latest_metrics_by_value ON latest_metrics (key, value) INCLUDE (run_uuid, is_nan);

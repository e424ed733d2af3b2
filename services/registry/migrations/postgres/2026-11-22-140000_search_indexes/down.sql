DROP INDEX latest_metrics_by_value;
CREATE INDEX latest_metrics_by_value ON latest_metrics (key, value);
ALTER TABLE latest_metrics DROP CONSTRAINT latest_metrics_pkey;
ALTER TABLE latest_metrics ADD PRIMARY KEY (run_uuid, key);
DROP INDEX runs_by_experiment;
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time DESC, run_uuid);

-- A run search filtering on a metric reads that metric's latest values in the runs' own order
-- (experiment, newest first) and stops at the end of the page: each latest point carries its
-- run's experiment and start time, which never change once the run exists. Without them the
-- search visited every run of the experiment, or every match, before it could sort.
ALTER TABLE latest_metrics ADD COLUMN experiment_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE latest_metrics ADD COLUMN start_time BIGINT NOT NULL DEFAULT 0;
UPDATE latest_metrics SET
    experiment_id = (SELECT r.experiment_id FROM runs r WHERE r.run_uuid = latest_metrics.run_uuid),
    start_time = (SELECT r.start_time FROM runs r WHERE r.run_uuid = latest_metrics.run_uuid);
CREATE INDEX latest_metrics_in_run_order
    ON latest_metrics (key, experiment_id, start_time DESC, run_uuid, value, is_nan);

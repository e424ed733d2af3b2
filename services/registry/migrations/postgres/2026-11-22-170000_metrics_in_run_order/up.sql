-- A run search filtering on a metric reads that metric's latest values in the runs' own order
-- (experiment, newest first) and stops at the end of the page: each latest point carries its
-- run's experiment and start time, which never change once the run exists. Without them the
-- search visited every run of the experiment, or every match, before it could sort.
ALTER TABLE latest_metrics ADD COLUMN experiment_id BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN start_time BIGINT NOT NULL DEFAULT 0;
UPDATE latest_metrics m SET experiment_id = r.experiment_id, start_time = r.start_time
    FROM runs r WHERE r.run_uuid = m.run_uuid;
ALTER TABLE latest_metrics ALTER COLUMN experiment_id DROP DEFAULT, ALTER COLUMN start_time DROP DEFAULT;
-- The value and NaN flag are key columns, not INCLUDEd ones: conditions on them are then checked
-- inside the index, before the visibility check that fetches a row not yet vacuumed.
CREATE INDEX latest_metrics_in_run_order
    ON latest_metrics (key, experiment_id, start_time DESC, run_uuid, value, is_nan);

DROP INDEX latest_metrics_in_run_order;
ALTER TABLE latest_metrics DROP COLUMN experiment_id, DROP COLUMN start_time;

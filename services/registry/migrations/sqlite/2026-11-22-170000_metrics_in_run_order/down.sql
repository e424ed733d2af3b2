DROP INDEX latest_metrics_in_run_order;
ALTER TABLE latest_metrics DROP COLUMN experiment_id;
ALTER TABLE latest_metrics DROP COLUMN start_time;

-- latest_metrics stays clustered (WITHOUT ROWID): the same rows, the same queries.
DROP INDEX runs_by_experiment;
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time DESC, run_uuid);

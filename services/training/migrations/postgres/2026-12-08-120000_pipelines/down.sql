DROP TABLE pipeline_runs;
DROP TABLE pipelines;

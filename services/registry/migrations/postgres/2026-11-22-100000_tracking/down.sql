DROP TABLE latest_metrics;
DROP TABLE metrics;
DROP TABLE tags;
DROP TABLE params;
DROP TABLE runs;
DROP TABLE experiment_tags;
DROP TABLE experiments;

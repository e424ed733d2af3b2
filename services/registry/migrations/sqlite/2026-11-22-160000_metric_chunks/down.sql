DROP TABLE metric_chunks;

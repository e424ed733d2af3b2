DROP TABLE source_datasets;

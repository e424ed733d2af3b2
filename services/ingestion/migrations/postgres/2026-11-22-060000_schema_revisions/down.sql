DROP TABLE dataset_schemas;

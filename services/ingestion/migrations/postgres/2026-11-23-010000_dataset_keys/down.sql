DROP TABLE dataset_keys;

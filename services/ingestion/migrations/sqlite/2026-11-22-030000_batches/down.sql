DROP TABLE dataset_versions;
DROP TABLE batch_files;
DROP TABLE batches;

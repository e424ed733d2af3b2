DROP INDEX batches_by_origin;
ALTER TABLE dataset_versions DROP COLUMN lineage_json;
ALTER TABLE batches DROP COLUMN lineage_json;
ALTER TABLE batches DROP COLUMN origin;

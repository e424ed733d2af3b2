ALTER TABLE dataset_versions DROP COLUMN profile_json;
ALTER TABLE batches DROP COLUMN profile_json;

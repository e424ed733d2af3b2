-- Batches Cairn computed (training data from the feature store): what produced them, found again
-- by `origin` (`training_data:<id>`) when the request is redelivered, and their lineage, which
-- the version they create carries.
ALTER TABLE batches ADD COLUMN origin TEXT;
ALTER TABLE batches ADD COLUMN lineage_json TEXT;
ALTER TABLE dataset_versions ADD COLUMN lineage_json TEXT;
CREATE INDEX batches_by_origin ON batches (dataset, origin);

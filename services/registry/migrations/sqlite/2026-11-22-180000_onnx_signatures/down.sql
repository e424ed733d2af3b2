ALTER TABLE model_versions DROP COLUMN signature;

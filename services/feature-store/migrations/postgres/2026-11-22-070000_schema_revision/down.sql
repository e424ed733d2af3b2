ALTER TABLE source_datasets DROP COLUMN schema_revision;

-- The dataset's schema revision this entry holds (ingestion's schema_evolved events raise it).
ALTER TABLE source_datasets ADD COLUMN schema_revision BIGINT NOT NULL DEFAULT 1;

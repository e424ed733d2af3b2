-- An endpoint's stream scoring: the subject records arrive on, the subject answers go to, and
-- whether records are entity keys (1) or features by name (0).
ALTER TABLE endpoints ADD COLUMN stream_input TEXT;
ALTER TABLE endpoints ADD COLUMN stream_output TEXT;
ALTER TABLE endpoints ADD COLUMN stream_entity_keys BIGINT;

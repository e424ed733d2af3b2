ALTER TABLE endpoints DROP COLUMN stream_input;
ALTER TABLE endpoints DROP COLUMN stream_output;
ALTER TABLE endpoints DROP COLUMN stream_entity_keys;

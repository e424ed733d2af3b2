-- Mergeable statistical profiles (cairn-records Profile, JSON): per batch, and per version (the
-- previous version's merged with its batches').
ALTER TABLE batches ADD COLUMN profile_json TEXT;
ALTER TABLE dataset_versions ADD COLUMN profile_json TEXT;

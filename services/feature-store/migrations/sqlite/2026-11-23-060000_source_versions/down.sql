DROP TABLE source_version_files;
DROP TABLE source_versions;

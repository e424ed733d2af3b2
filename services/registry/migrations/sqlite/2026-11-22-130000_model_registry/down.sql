DROP TABLE audit_log;
DROP TABLE alias_history;
DROP TABLE model_aliases;
DROP TABLE model_version_tags;
DROP TABLE model_versions;
DROP TABLE registered_model_tags;
DROP TABLE registered_models;

CREATE TABLE datasets (
    name TEXT PRIMARY KEY NOT NULL,
    schema_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

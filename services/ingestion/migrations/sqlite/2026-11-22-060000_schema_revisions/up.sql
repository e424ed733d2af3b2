-- Every schema a dataset has had: revision 1 is the declaration, later ones add nullable columns.
CREATE TABLE dataset_schemas (
    dataset TEXT NOT NULL REFERENCES datasets (name),
    revision BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    schema_json TEXT NOT NULL,
    -- JSON array of the column names this revision added.
    added_json TEXT NOT NULL,
    PRIMARY KEY (dataset, revision)
);
INSERT INTO dataset_schemas (dataset, revision, changed_at, schema_json, added_json)
SELECT name, 1, created_at, schema_json, '[]' FROM datasets;

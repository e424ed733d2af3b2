-- The versions of source datasets (from `cairn.datasets.version_created`) and the data files each
-- adds to the one before: version N holds the files of versions 1..N. Entity rows for training
-- data are read from them.
CREATE TABLE source_versions (
    dataset TEXT NOT NULL,
    version BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (dataset, version)
);
CREATE TABLE source_version_files (
    dataset TEXT NOT NULL,
    version BIGINT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (dataset, version, path)
);

-- The committed keys (entity keys + event timestamp, as a 16-byte XXH3 digest) of datasets that
-- declare unique_key, by event day: a batch loads the days it touches and quarantines a record
-- whose key an earlier batch committed. Written in the transaction that commits the batch.
CREATE TABLE dataset_keys (
    dataset TEXT NOT NULL,
    day INTEGER NOT NULL,
    digest BLOB NOT NULL,
    PRIMARY KEY (dataset, day, digest)
) WITHOUT ROWID;

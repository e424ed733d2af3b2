-- Every artifact file the registry stores, by its path under the artifact root. Downloads check
-- the file against its hash; listings come from here, never from walking the store. Paths sort
-- bytewise (SQLite's default collation) so that a directory's files are one range of the key.
CREATE TABLE artifacts (
    path TEXT PRIMARY KEY NOT NULL,
    bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

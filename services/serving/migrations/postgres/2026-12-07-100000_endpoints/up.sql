-- Endpoints: what each serves (a model version, or the version an alias points at). Every
-- replica reads this table; `revision` grows with each change.
CREATE TABLE endpoints (
    name TEXT PRIMARY KEY NOT NULL,
    model TEXT NOT NULL,
    alias TEXT,
    version BIGINT,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

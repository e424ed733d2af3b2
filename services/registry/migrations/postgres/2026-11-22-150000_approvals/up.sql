-- Protected aliases move only through an approved request; requests and decisions are kept.
CREATE TABLE protected_aliases (
    name TEXT NOT NULL REFERENCES registered_models ON UPDATE CASCADE ON DELETE CASCADE,
    alias TEXT NOT NULL,
    protected_by TEXT NOT NULL,
    protected_at BIGINT NOT NULL,
    PRIMARY KEY (name, alias)
);

-- `state`: pending → approved | rejected.
CREATE TABLE alias_requests (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL REFERENCES registered_models ON UPDATE CASCADE ON DELETE CASCADE,
    alias TEXT NOT NULL,
    version BIGINT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    decision_reason TEXT
);
CREATE INDEX alias_requests_by_state ON alias_requests (state, requested_at);

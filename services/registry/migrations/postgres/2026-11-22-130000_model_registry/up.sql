-- The model registry: registered models, their immutable versions (each with a copy of its
-- files under registered/<version id>/), tags, aliases and stages. A rename cascades.
CREATE TABLE registered_models (
    name TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL
);

CREATE TABLE registered_model_tags (
    name TEXT NOT NULL REFERENCES registered_models ON UPDATE CASCADE ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);

CREATE TABLE model_versions (
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL REFERENCES registered_models ON UPDATE CASCADE ON DELETE CASCADE,
    version BIGINT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL,
    description TEXT NOT NULL,
    user_id TEXT NOT NULL,
    source TEXT NOT NULL,
    run_id TEXT,
    run_link TEXT,
    model_id TEXT,
    storage_location TEXT NOT NULL,
    current_stage TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_by_run ON model_versions (run_id);

CREATE TABLE model_version_tags (
    version_id TEXT NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (version_id, key)
);

CREATE TABLE model_aliases (
    name TEXT NOT NULL REFERENCES registered_models ON UPDATE CASCADE ON DELETE CASCADE,
    alias TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias)
);

-- Append-only: every move of an alias (version NULL: removed), so "which version was champion
-- on 3 March" has an answer.
CREATE TABLE alias_history (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version BIGINT,
    changed_at BIGINT NOT NULL,
    changed_by TEXT NOT NULL
);
CREATE INDEX alias_history_by_alias ON alias_history (name, alias, changed_at);

-- Append-only: every change to the registry, who made it, and the entity before and after.
CREATE TABLE audit_log (
    seq BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX audit_log_by_entity ON audit_log (entity, seq);

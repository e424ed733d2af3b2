-- Feature definitions as applied (`cairn features apply`). Entities change in place; feature
-- views and services are versioned: a version never changes (but for its description) and stays
-- readable after a newer one or a deletion (`deleted_at` on the latest version).
CREATE TABLE entities (
    name TEXT PRIMARY KEY NOT NULL,
    definition_json TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE TABLE feature_views (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    -- cairn-api FeatureViewDef, and what apply resolved from its entities and source.
    definition_json TEXT NOT NULL,
    join_keys_json TEXT NOT NULL,
    timestamp_field TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT,
    PRIMARY KEY (name, version)
);
CREATE TABLE feature_services (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    -- cairn-api Projection list: features pinned to feature view versions.
    projections_json TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT,
    PRIMARY KEY (name, version)
);

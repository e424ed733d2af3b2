-- An endpoint's canary (a version answering a share of requests, in basis points) and shadow (a
-- version getting a copy of each request).
ALTER TABLE endpoints ADD COLUMN canary_version BIGINT;
ALTER TABLE endpoints ADD COLUMN canary_basis_points BIGINT;
ALTER TABLE endpoints ADD COLUMN shadow_version BIGINT;

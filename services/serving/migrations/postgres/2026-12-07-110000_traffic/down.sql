ALTER TABLE endpoints DROP COLUMN shadow_version;
ALTER TABLE endpoints DROP COLUMN canary_basis_points;
ALTER TABLE endpoints DROP COLUMN canary_version;

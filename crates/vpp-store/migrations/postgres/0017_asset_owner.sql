-- An asset_owner user or owner:read key is bound to an asset owner (the
-- `owner` of its assets' technical data) and reads only those assets.
ALTER TABLE users ADD COLUMN asset_owner TEXT;
ALTER TABLE api_keys ADD COLUMN asset_owner TEXT;

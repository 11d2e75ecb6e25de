-- Master keys rotate: every wrapped participant key names the master key that wrapped it.
-- Keys wrapped before this were all wrapped by the first one, "k1".
ALTER TABLE participant_keys ADD COLUMN key_id text NOT NULL DEFAULT 'k1';
ALTER TABLE participant_keys ALTER COLUMN key_id DROP DEFAULT;
CREATE INDEX participant_keys_by_master ON participant_keys (key_id);

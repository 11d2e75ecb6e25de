-- The key store: each participant's own key, wrapped by a master key, in a database apart
-- from the ciphertext. A backup of intake's data (the ciphertext) taken before an erasure
-- cannot be opened once the key is gone from here.
CREATE TABLE participant_keys (
    participant_id uuid        PRIMARY KEY,
    key_id         text        NOT NULL,
    wrapped_key    bytea       NOT NULL,
    stored_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX participant_keys_by_master ON participant_keys (key_id);

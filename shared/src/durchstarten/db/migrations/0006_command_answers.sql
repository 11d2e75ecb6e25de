-- The answer to every command a provider sent, so that a command sent again with the same
-- id is answered as the first time (marked as a repeat), and the same id with other data is
-- refused. `fingerprint` is a hash of the command's type and data, never the data; `reply`
-- the reply as sent (replies hold no direct identifiers), NULL while the command is held.
-- Kept as long as the raw command on its inbound topic (the deletion plan's
-- `command_answers`), and a person's answers go with their erasure.
CREATE TABLE command_answers (
    consumer       text        NOT NULL,
    dedupe_key     text        NOT NULL,
    fingerprint    bytea       NOT NULL,
    participant_id uuid,
    reply          jsonb,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, dedupe_key)
);
CREATE INDEX command_answers_age ON command_answers (recorded_at);
CREATE INDEX command_answers_person ON command_answers (participant_id)
    WHERE participant_id IS NOT NULL;

-- Identifiers move into the encrypted vault (one key per participant, in its own table);
-- the participants table keeps the registration's state and coarse attributes only.
-- Before this migration no deployment held real data, so the plain columns are dropped.
ALTER TABLE participants
    DROP COLUMN given_name,
    DROP COLUMN family_name,
    DROP COLUMN birth_date,
    DROP COLUMN provider_reference,
    ADD COLUMN status text NOT NULL DEFAULT 'registered'
        CHECK (status IN ('registered', 'pending-exception', 'denied', 'erased')),
    ADD COLUMN programme text,
    ADD COLUMN lives_in_state_reception_facility boolean NOT NULL DEFAULT false,
    ADD COLUMN employment_ban boolean NOT NULL DEFAULT false,
    ADD COLUMN failed_rules jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN pending_event jsonb,
    ADD COLUMN exit_date date,
    ADD COLUMN exit_reason text,
    ADD COLUMN erased_at timestamptz;

-- Wrapped per-participant keys, apart from the ciphertext: erasure deletes both.
CREATE TABLE participant_keys (
    participant_id uuid PRIMARY KEY REFERENCES participants ON DELETE CASCADE,
    wrapped_key    bytea NOT NULL
);

CREATE TABLE identities (
    participant_id uuid PRIMARY KEY REFERENCES participants ON DELETE CASCADE,
    nonce          bytea NOT NULL,
    ciphertext     bytea NOT NULL
);

-- Blind index for duplicate detection: keyed hashes of phonetic name codes and birth year.
CREATE TABLE identity_index (
    participant_id uuid  NOT NULL REFERENCES participants ON DELETE CASCADE,
    token          bytea NOT NULL,
    PRIMARY KEY (participant_id, token)
);
CREATE INDEX identity_index_token ON identity_index (token);

-- Which providers may see a participant: the registering one, and any assigned later.
CREATE TABLE provider_links (
    participant_id uuid NOT NULL REFERENCES participants ON DELETE CASCADE,
    provider       text NOT NULL,
    relation       text NOT NULL CHECK (relation IN ('registered', 'assigned')),
    linked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (participant_id, provider)
);

CREATE TABLE residence_status_history (
    participant_id uuid NOT NULL REFERENCES participants ON DELETE CASCADE,
    status         text NOT NULL,
    legal_basis    text NOT NULL,
    since          date,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX residence_status_history_participant ON residence_status_history (participant_id);

CREATE TABLE german_level_history (
    participant_id uuid NOT NULL REFERENCES participants ON DELETE CASCADE,
    overall        text NOT NULL,
    listening      text,
    reading        text,
    writing        text,
    speaking       text,
    measured_on    date NOT NULL,
    source         text NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX german_level_history_participant ON german_level_history (participant_id);

CREATE TABLE exception_decisions (
    participant_id   uuid        NOT NULL REFERENCES participants ON DELETE CASCADE,
    decision         text        NOT NULL CHECK (decision IN ('approved', 'denied')),
    rules            jsonb       NOT NULL,
    reason_encrypted bytea,      -- with the participant's key: shredded on erasure
    decided_by       text        NOT NULL,
    decided_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE duplicate_reviews (
    participant_id uuid        NOT NULL REFERENCES participants ON DELETE CASCADE,
    candidate_id   uuid        NOT NULL REFERENCES participants ON DELETE CASCADE,
    score          real        NOT NULL,
    status         text        NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'confirmed', 'rejected')),
    decided_by     text,
    decided_at     timestamptz,
    PRIMARY KEY (participant_id, candidate_id)
);

-- Who read or wrote identifiers, when, and why. Append-only: each row's hash covers the
-- previous row's hash, so an edited or deleted row breaks the chain from there on.
CREATE TABLE audit_log (
    seq            bigserial   PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor          text        NOT NULL,
    action         text        NOT NULL,
    participant_id uuid,
    purpose        text        NOT NULL,
    prev_hash      bytea       NOT NULL,
    hash           bytea       NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- What each registration command produced, so a repeated command gets the same answer
-- (including "existing participant", which creates no registration of its own).
CREATE TABLE registration_results (
    provider       text NOT NULL,
    command_id     text NOT NULL,
    participant_id uuid NOT NULL,
    status         text NOT NULL,
    PRIMARY KEY (provider, command_id)
);

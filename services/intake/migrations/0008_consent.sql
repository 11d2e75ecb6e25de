-- Consent (issue 16, part 5): what each person consented to, and coordinators' overrides.
-- People registered before consent was checked have no row: what other providers were
-- linked to them stays, but no new provider is linked without consent or an override.
CREATE TABLE consents (
    participant_id   uuid        PRIMARY KEY REFERENCES participants ON DELETE CASCADE,
    scopes           text[]      NOT NULL,
    given_on         date        NOT NULL,
    expires_on       date,
    recorded_by      text        NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    -- Set once the expiry was announced (and other providers unlinked).
    expiry_announced boolean     NOT NULL DEFAULT false
);
CREATE INDEX consents_expiring ON consents (expires_on) WHERE NOT expiry_announced;

-- Break-glass: a coordinator lets a provider work with a person without consent, for a
-- few days, with a reason (sealed with the person's key, cleared at erasure).
CREATE TABLE consent_overrides (
    override_id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    participant_id   uuid        NOT NULL REFERENCES participants ON DELETE CASCADE,
    provider         text        NOT NULL,
    until            date        NOT NULL,
    reason_encrypted bytea,
    decided_by       text        NOT NULL,
    decided_at       timestamptz NOT NULL DEFAULT now(),
    end_announced    boolean     NOT NULL DEFAULT false
);
CREATE INDEX consent_overrides_participant ON consent_overrides (participant_id);
CREATE INDEX consent_overrides_ending ON consent_overrides (until) WHERE NOT end_announced;

ALTER TABLE provider_links DROP CONSTRAINT provider_links_relation_check;
ALTER TABLE provider_links ADD CONSTRAINT provider_links_relation_check
    CHECK (relation IN ('registered', 'assigned', 'override'));

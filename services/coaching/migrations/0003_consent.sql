-- Consent (issue 16): a referral to another provider takes effect only while the person's
-- consent to data sharing holds (or a coordinator's override for that provider lasts), and
-- other providers lose access when it ends. People known before consent was checked keep
-- what they had (true); everyone announced from now on brings their consent along.
ALTER TABLE participants
    ADD COLUMN shares_data boolean NOT NULL DEFAULT true,
    ADD COLUMN sharing_expires_on date;
ALTER TABLE participants ALTER COLUMN shares_data SET DEFAULT false;

CREATE TABLE consent_overrides (
    participant_id uuid NOT NULL,
    provider       text NOT NULL,
    until          date NOT NULL,
    PRIMARY KEY (participant_id, provider)
);

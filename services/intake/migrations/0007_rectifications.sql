-- Rectifications (Art. 16): which fields were corrected, when, by whom and why. The reason
-- may quote the person's documents: sealed with the person's key, cleared at erasure.
CREATE TABLE rectifications (
    rectification_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    participant_id   uuid        NOT NULL REFERENCES participants ON DELETE CASCADE,
    fields           text[]      NOT NULL,
    reason_encrypted bytea,
    corrected_by     text        NOT NULL,
    corrected_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rectifications_participant ON rectifications (participant_id);

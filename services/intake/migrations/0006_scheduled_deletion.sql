-- Scheduled deletion (issue 16): legal holds that stop it, and a record of every erasure.

-- A coordinator's legal hold stops the scheduled deletion of one person's identifiers.
-- The reason may name the person's circumstances: it is sealed with the person's own key
-- and cleared at erasure. A released hold stays listed (who, when) for review.
CREATE TABLE legal_holds (
    hold_id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    participant_id   uuid        NOT NULL REFERENCES participants ON DELETE CASCADE,
    reason_encrypted bytea,
    set_by           text        NOT NULL,
    set_at           timestamptz NOT NULL DEFAULT now(),
    released_by      text,
    released_at      timestamptz,
    CHECK ((released_by IS NULL) = (released_at IS NULL))
);
-- At most one hold in force per person.
CREATE UNIQUE INDEX legal_holds_in_force ON legal_holds (participant_id)
    WHERE released_at IS NULL;

-- The erasure record (Löschprotokoll): that, when and on what basis a person's identifiers
-- were erased; nothing of what was erased.
CREATE TABLE erasures (
    participant_id uuid        PRIMARY KEY REFERENCES participants ON DELETE CASCADE,
    erased_on      date        NOT NULL,
    basis          text        NOT NULL
        CHECK (basis IN ('request', 'schedule', 'exception-denied')),
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO erasures (participant_id, erased_on, basis)
SELECT participant_id, erased_at::date,
       CASE WHEN status = 'denied' THEN 'exception-denied' ELSE 'request' END
FROM participants
WHERE erased_at IS NOT NULL;

-- The schedule looks for people whose period has run out.
CREATE INDEX participants_deletion_due ON participants (exit_date, entry_date)
    WHERE status IN ('registered', 'pending-exception');

-- A row the broker refuses for good (unknown topic, not authorised, too large) must not stop
-- every row behind it: after a few attempts it is parked, logged and counted.
ALTER TABLE outbox
    ADD COLUMN attempts   integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_error text,
    ADD COLUMN parked_at  timestamptz;

DROP INDEX outbox_unsent;
CREATE INDEX outbox_unsent ON outbox (seq) WHERE published_at IS NULL AND parked_at IS NULL;

-- Commands that refer to something not known yet (a participant whose registration has not
-- arrived from intake): kept here, retried when it arrives, rejected when the hold expires.
CREATE TABLE held_commands (
    id          bigserial   PRIMARY KEY,
    consumer    text        NOT NULL,
    provider    text        NOT NULL,
    dedupe_key  text        NOT NULL,
    actor       jsonb       NOT NULL,
    envelope    jsonb       NOT NULL,
    source      jsonb,
    waiting_for text        NOT NULL,
    held_at     timestamptz NOT NULL DEFAULT now(),
    hold_until  timestamptz NOT NULL,
    UNIQUE (consumer, dedupe_key)
);
CREATE INDEX held_commands_order ON held_commands (consumer, id);

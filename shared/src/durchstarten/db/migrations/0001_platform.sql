-- Platform tables every service has: the transactional outbox, the inbox of processed
-- messages (idempotent consumers) and per-partition checkpoints (exactly-once projections).

CREATE TABLE outbox (
    seq          bigserial   PRIMARY KEY,
    topic        text        NOT NULL,
    message_key  bytea,
    value        bytea       NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '[]',
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
-- The relay reads only unsent rows, in order.
CREATE INDEX outbox_unsent ON outbox (seq) WHERE published_at IS NULL;

CREATE TABLE processed_messages (
    consumer     text        NOT NULL,
    message_id   text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

CREATE TABLE consumer_checkpoints (
    consumer    text   NOT NULL,
    topic       text   NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (consumer, topic, partition)
);

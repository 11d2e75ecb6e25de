-- $1 topics, $2 keys, $3 values, $4 headers (each a JSON list of [name, value] pairs):
-- a batch's outbox rows, their sequence numbers in the order given; one notification
-- wakes the relay (delivered at commit).
WITH added AS (
    INSERT INTO outbox (topic, message_key, value, headers)
    SELECT topic, message_key, value, headers::jsonb
    FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[])
        WITH ORDINALITY AS row (topic, message_key, value, headers, n)
    ORDER BY n
    RETURNING seq
)
SELECT pg_notify('outbox', '') WHERE EXISTS (SELECT FROM added)

-- $1 sequence numbers sent and acknowledged by the broker
UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])

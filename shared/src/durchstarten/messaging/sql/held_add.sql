-- $1 consumer, $2 provider, $3 dedupe key, $4 actor, $5 envelope, $6 source, $7 waiting for,
-- $8 hold until
INSERT INTO held_commands (
    consumer, provider, dedupe_key, actor, envelope, source, waiting_for, hold_until
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (consumer, dedupe_key) DO NOTHING

-- $1 consumer, $2 after id: the next held command in arrival order, locked
SELECT id, provider, dedupe_key, actor, envelope, source, waiting_for, held_at, hold_until
FROM held_commands
WHERE consumer = $1 AND id > $2
ORDER BY id
LIMIT 1
FOR UPDATE SKIP LOCKED

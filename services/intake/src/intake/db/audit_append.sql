-- $1 at, $2 actor, $3 action, $4 participant_id, $5 purpose, $6 prev_hash, $7 hash
INSERT INTO audit_log (at, actor, action, participant_id, purpose, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7)

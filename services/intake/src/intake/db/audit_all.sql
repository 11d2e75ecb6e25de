SELECT seq, at, actor, action, participant_id, purpose, prev_hash, hash
FROM audit_log ORDER BY seq

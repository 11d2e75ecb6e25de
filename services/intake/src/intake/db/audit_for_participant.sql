-- $1 participant_id
SELECT seq, at, actor, action, purpose FROM audit_log WHERE participant_id = $1 ORDER BY seq

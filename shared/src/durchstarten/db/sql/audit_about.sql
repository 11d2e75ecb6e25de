-- $1 participant id: every entry about them, oldest first
SELECT seq, at, actor, action, purpose FROM audit_trail WHERE participant_id = $1 ORDER BY seq

-- $1 session_ids: those stored already
SELECT session_id FROM sessions WHERE session_id = ANY($1::uuid[])

-- $1 session_id, $2 case_id, $3 date, $4 minutes, $5 languages, $6 topics, $7 coach_id
-- (a session the batch's read-ahead found new; its case is locked by the batch)
INSERT INTO sessions (session_id, case_id, date, minutes, languages, topics, coach_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)

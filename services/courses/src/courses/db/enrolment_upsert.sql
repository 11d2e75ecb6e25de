-- $1 course_id, $2 participant_id, $3 status, $4 requested_on, $5 enrolled_on
-- (a person who dropped out may ask again: a new request goes to the end of the line)
INSERT INTO enrolments (course_id, participant_id, status, requested_on, enrolled_on)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (course_id, participant_id) DO UPDATE
SET status = excluded.status, requested_on = excluded.requested_on,
    enrolled_on = excluded.enrolled_on, seq = nextval('enrolments_seq_seq'),
    dropped_on = NULL, drop_reason = NULL

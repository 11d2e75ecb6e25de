INSERT INTO certificates (course_id, participant_id, certificate, issued_on)
VALUES ($1, $2, $3, $4)

INSERT INTO attendance (course_id, participant_id, part, date, ue) VALUES ($1, $2, $3, $4, $5)

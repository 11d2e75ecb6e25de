INSERT INTO exam_results (
    course_id, participant_id, exam_date, listening_reading, writing, speaking, overall
) VALUES ($1, $2, $3, $4, $5, $6, $7)

INSERT INTO courses (
    course_id, provider, course_type, module, site, start_date, end_date, parts,
    target_level, capacity
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)

-- $1 course_ids, locked in one order: enrolments of one course are decided one at a time
SELECT course_id, provider, course_type, module, site, start_date, end_date, parts,
       target_level, capacity
FROM courses WHERE course_id = ANY($1::uuid[]) ORDER BY course_id FOR UPDATE

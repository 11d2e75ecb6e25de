-- Where each course runs; a course scheduled again keeps its first record
INSERT INTO courses (course_id, provider, site)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
ON CONFLICT (course_id) DO NOTHING

-- $1 course_ids, $2 parts, $3 dates (triples, same order): the UE delivered those days
SELECT d.course_id, d.part, d.date, d.ue
FROM course_days AS d
JOIN (SELECT DISTINCT * FROM unnest($1::uuid[], $2::text[], $3::date[])) AS wanted
    (course_id, part, date)
  ON d.course_id = wanted.course_id AND d.part = wanted.part AND d.date = wanted.date

-- $1 course_ids, $2 participant_ids, $3 parts (triples, same order): UE attended so far
SELECT a.course_id, a.participant_id, a.part, sum(a.ue) AS ue
FROM attendance AS a
JOIN (SELECT DISTINCT * FROM unnest($1::uuid[], $2::uuid[], $3::text[])) AS wanted
    (course_id, participant_id, part)
  ON a.course_id = wanted.course_id AND a.participant_id = wanted.participant_id
 AND a.part = wanted.part
GROUP BY a.course_id, a.participant_id, a.part

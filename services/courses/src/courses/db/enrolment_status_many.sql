-- $1 course_ids, $2 participant_ids (pairs, same order)
SELECT e.course_id, e.participant_id, e.status
FROM enrolments AS e
JOIN unnest($1::uuid[], $2::uuid[]) AS wanted (course_id, participant_id)
  ON e.course_id = wanted.course_id AND e.participant_id = wanted.participant_id

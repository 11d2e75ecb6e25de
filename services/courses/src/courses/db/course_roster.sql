-- $1 course_id: places and waitlist in order, with UE attended per participant
SELECT e.participant_id, e.status, e.seq, e.enrolled_on, e.completed_on, e.dropped_on,
       (SELECT coalesce(sum(a.ue), 0) FROM attendance AS a
        WHERE a.course_id = e.course_id AND a.participant_id = e.participant_id) AS ue_attended,
       (SELECT r.overall FROM exam_results AS r
        WHERE r.course_id = e.course_id AND r.participant_id = e.participant_id
        ORDER BY r.exam_date DESC LIMIT 1) AS exam_overall
FROM enrolments AS e WHERE e.course_id = $1 ORDER BY e.seq

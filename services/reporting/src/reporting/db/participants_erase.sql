-- $1 participant ids, $2 erasure dates: remove person-level rows, remember the erasure
WITH tombstones AS (
    INSERT INTO erased_participants (participant_id, erased_on)
    SELECT * FROM unnest($1::uuid[], $2::date[])
    ON CONFLICT DO NOTHING
)
, gone_exits AS (
    DELETE FROM exits WHERE participant_id = ANY($1::uuid[])
), gone_modules AS (
    DELETE FROM module_participations WHERE participant_id = ANY($1::uuid[])
), gone_placements AS (
    DELETE FROM placements WHERE participant_id = ANY($1::uuid[])
), gone_exams AS (
    DELETE FROM exam_results WHERE participant_id = ANY($1::uuid[])
), gone_course_facts AS (
    DELETE FROM course_participations WHERE participant_id = ANY($1::uuid[])
), gone_moves AS (
    DELETE FROM moves WHERE participant_id = ANY($1::uuid[])
), gone_follow_ups AS (
    DELETE FROM follow_ups WHERE participant_id = ANY($1::uuid[])
), links AS (
    DELETE FROM duplicates
    WHERE participant_id = ANY($1::uuid[]) OR duplicate_of = ANY($1::uuid[])
)
DELETE FROM participants WHERE participant_id = ANY($1::uuid[])

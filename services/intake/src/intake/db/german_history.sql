-- $1 participant_id
SELECT overall, listening, reading, writing, speaking, measured_on, source
FROM german_level_history WHERE participant_id = $1 ORDER BY measured_on, recorded_at

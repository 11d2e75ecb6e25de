-- $1 participant_id, $2 overall, $3 listening, $4 reading, $5 writing, $6 speaking,
-- $7 measured_on, $8 source
INSERT INTO german_level_history (
    participant_id, overall, listening, reading, writing, speaking, measured_on, source
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)

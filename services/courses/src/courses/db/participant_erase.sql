-- $1 participant_id: person-level rows go (cascade); delivered teaching days stay
WITH tombstone AS (
    INSERT INTO erased_participants (participant_id) VALUES ($1) ON CONFLICT DO NOTHING
), links AS (
    DELETE FROM participant_providers WHERE participant_id = $1
), placement AS (
    DELETE FROM participant_placements WHERE participant_id = $1
)
DELETE FROM participants WHERE participant_id = $1

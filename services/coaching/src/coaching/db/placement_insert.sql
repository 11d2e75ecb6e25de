-- $1 placement_id, $2 case_id, $3 participant_id, $4 category, $5 start_date,
-- $6 employment_kind
INSERT INTO placements (placement_id, case_id, participant_id, category, start_date, employment_kind)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (placement_id) DO NOTHING
RETURNING placement_id

-- $1 participant_id, $2 category: the newest placement is the current status (one person's
-- placements arrive in order on coaching.events); kept even before the registration arrives,
-- never for an erased person
INSERT INTO participant_placements (participant_id, category)
SELECT $1, $2
WHERE NOT EXISTS (SELECT 1 FROM erased_participants WHERE participant_id = $1)
ON CONFLICT (participant_id) DO UPDATE SET category = EXCLUDED.category

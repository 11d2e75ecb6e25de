-- One row per move event; a repeat changes nothing, an erased person's move is not kept
INSERT INTO moves (event_id, participant_id, moved_on, from_county, to_county, municipality)
SELECT r.* FROM unnest(
    $1::text[], $2::uuid[], $3::date[], $4::text[], $5::text[], $6::text[]
) AS r (event_id, participant_id, moved_on, from_county, to_county, municipality)
WHERE NOT EXISTS (SELECT 1 FROM erased_participants AS e WHERE e.participant_id = r.participant_id)
ON CONFLICT (event_id) DO NOTHING

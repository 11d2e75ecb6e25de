INSERT INTO placements (
    placement_id, participant_id, provider, site, category, start_date, employment_kind
)
SELECT t.*
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::date[], $7::text[])
    AS t (placement_id, participant_id, provider, site, category, start_date, employment_kind)
WHERE NOT EXISTS (SELECT 1 FROM erased_participants AS e WHERE e.participant_id = t.participant_id)
ON CONFLICT (placement_id) DO NOTHING

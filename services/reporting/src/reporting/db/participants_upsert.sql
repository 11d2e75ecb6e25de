-- One row per registration event; a repeat, an erased or a merged participant changes nothing.
INSERT INTO participants (
    participant_id, provider, entry_date, age_at_entry, sex, country_of_origin,
    residence_status, municipality, county, school_education, german_level, registered_event_id
)
SELECT r.*
FROM unnest(
    $1::uuid[], $2::text[], $3::date[], $4::integer[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]
) AS r (
    participant_id, provider, entry_date, age_at_entry, sex, country_of_origin,
    residence_status, municipality, county, school_education, german_level, registered_event_id
)
WHERE NOT EXISTS (SELECT 1 FROM erased_participants AS e WHERE e.participant_id = r.participant_id)
  AND NOT EXISTS (SELECT 1 FROM duplicates AS d WHERE d.participant_id = r.participant_id)
ON CONFLICT (participant_id) DO NOTHING

-- One row per registration event; a repeat of the same participant changes nothing.
INSERT INTO participants (
    participant_id, provider, entry_date, age_at_entry, sex, country_of_origin,
    residence_status, municipality, school_education, german_level, registered_event_id
)
SELECT * FROM unnest(
    $1::uuid[], $2::text[], $3::date[], $4::integer[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]
)
ON CONFLICT (participant_id) DO NOTHING

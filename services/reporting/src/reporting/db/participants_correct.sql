-- $1 participant ids, $2 ages at entry, $3 sexes, $4 countries of origin: a rectification
-- (Art. 16) of what the reports count; the latest correction of a person holds
UPDATE participants AS p
SET age_at_entry = c.age_at_entry, sex = c.sex, country_of_origin = c.country_of_origin
FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::text[])
    AS c (participant_id, age_at_entry, sex, country_of_origin)
WHERE p.participant_id = c.participant_id

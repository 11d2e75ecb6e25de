-- $1 participant_id, $2 provider, $3 command_id, $4 provider_reference, $5 given_name,
-- $6 family_name, $7 birth_date, $8 sex, $9 country_of_origin, $10 residence_status,
-- $11 municipality, $12 school_education, $13 german_level, $14 entry_date
INSERT INTO participants (
    participant_id, provider, command_id, provider_reference, given_name, family_name,
    birth_date, sex, country_of_origin, residence_status, municipality, school_education,
    german_level, entry_date
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)

-- $1 participant_id, $2 sex, $3 country_of_origin: the record's reported attributes corrected
UPDATE participants SET sex = $2, country_of_origin = $3 WHERE participant_id = $1

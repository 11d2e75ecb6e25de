-- $1 participant_id, $2 municipality key, $3 county key: the person moved
UPDATE participants SET municipality = $2, county = $3 WHERE participant_id = $1

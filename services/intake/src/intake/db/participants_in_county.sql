-- $1 participant ids, $2 county key: those of them living in the county
SELECT participant_id FROM participants WHERE participant_id = ANY($1::uuid[]) AND county = $2

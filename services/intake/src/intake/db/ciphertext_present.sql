-- $1 participant ids: those whose sealed identifiers intake still holds
SELECT participant_id FROM identities WHERE participant_id = ANY($1::uuid[])

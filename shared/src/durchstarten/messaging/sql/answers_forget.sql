-- $1 participant: a person's answers go with their erasure
DELETE FROM command_answers WHERE participant_id = $1

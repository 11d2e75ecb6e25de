-- $1 participant_id: the providers that may enrol the person
SELECT provider FROM participant_providers WHERE participant_id = $1

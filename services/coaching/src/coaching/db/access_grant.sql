-- $1 participant_id, $2 provider (a participant erased or not yet known gets no row)
INSERT INTO participant_access (participant_id, provider)
SELECT participant_id, $2 FROM participants WHERE participant_id = $1
ON CONFLICT DO NOTHING

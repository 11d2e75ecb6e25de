-- $1 participant_id, $2 provider, $3 relation
INSERT INTO provider_links (participant_id, provider, relation) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING

-- $1 participant_id, $2 provider
SELECT EXISTS (SELECT 1 FROM provider_links WHERE participant_id = $1 AND provider = $2)

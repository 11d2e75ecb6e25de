-- $1 participant_id: every provider that may work with the person, and since when
SELECT provider, relation, linked_at FROM provider_links WHERE participant_id = $1 ORDER BY linked_at

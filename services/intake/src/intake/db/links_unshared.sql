-- $1 participant_id, $2 providers that keep access: the others (linked by a sure duplicate
-- or an override) are unlinked; the registering provider always stays
DELETE FROM provider_links
WHERE participant_id = $1 AND relation <> 'registered' AND NOT (provider = ANY($2::text[]))

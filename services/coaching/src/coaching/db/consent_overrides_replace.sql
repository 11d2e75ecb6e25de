-- $1 participant_id, $2 providers, $3 last days: the overrides that last, as intake says
WITH gone AS (DELETE FROM consent_overrides WHERE participant_id = $1)
INSERT INTO consent_overrides (participant_id, provider, until)
SELECT $1, provider, until FROM unnest($2::text[], $3::date[]) AS o (provider, until)

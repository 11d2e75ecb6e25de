-- $1 participant_id, $2 today: the overrides that still last, the longest per provider
SELECT provider, max(until) AS until
FROM consent_overrides
WHERE participant_id = $1 AND until >= $2
GROUP BY provider
ORDER BY provider

-- How many participant keys each master key wraps.
SELECT key_id, count(*) AS keys FROM participant_keys GROUP BY key_id ORDER BY key_id

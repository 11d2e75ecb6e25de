-- $1 the new version's schema, $2 events it applied (run after versions_retire_live)
UPDATE projection_versions SET state = 'live', switched_at = now(), events_applied = $2
WHERE schema_name = $1 AND state = 'building'

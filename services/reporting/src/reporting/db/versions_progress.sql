-- $1 schema, $2 events applied so far
UPDATE projection_versions SET events_applied = $2 WHERE schema_name = $1

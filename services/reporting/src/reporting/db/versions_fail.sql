-- $1 schema, $2 error class
UPDATE projection_versions SET state = 'failed', error_class = $2
WHERE schema_name = $1 AND state = 'building'

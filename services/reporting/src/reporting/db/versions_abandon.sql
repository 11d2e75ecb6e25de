-- Versions left `building` by a rebuild that died (the caller holds the rebuild lock)
UPDATE projection_versions SET state = 'failed', error_class = 'abandoned'
WHERE state = 'building'
RETURNING schema_name

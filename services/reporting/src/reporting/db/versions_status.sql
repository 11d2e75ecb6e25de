-- $1 rebuild id: the version it builds, its progress and the seconds it took (so far)
SELECT rebuild_id, schema_name, state, events_applied, started_at, switched_at, error_class,
       extract(epoch FROM coalesce(switched_at, now()) - started_at)::float8 AS seconds
FROM projection_versions WHERE rebuild_id = $1

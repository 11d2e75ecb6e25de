-- $1 schema, $2 rebuild id: a new version being built (the unique index allows one)
INSERT INTO projection_versions (schema_name, state, rebuild_id) VALUES ($1, 'building', $2)

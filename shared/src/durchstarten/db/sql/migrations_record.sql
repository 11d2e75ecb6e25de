-- $1 scope, $2 version, $3 name, $4 checksum
INSERT INTO schema_migrations (scope, version, name, checksum) VALUES ($1, $2, $3, $4)

SELECT scope, version, checksum FROM schema_migrations

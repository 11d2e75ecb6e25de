#!/usr/bin/env bash
# Runs once, when the PostgreSQL container initialises its data directory: one database and
# one login role per service, so no service can read another's data (DESIGN.md).
# Passwords come from the environment (docker-compose.yml), never from the repository.
set -euo pipefail
for service in intake coaching courses reporting; do
  var="DURCHSTARTEN_${service^^}_DB_PASSWORD"
  password="${!var:?$var must be set}"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       -v role="$service" -v password="$password" -v db="durchstarten_$service" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
done

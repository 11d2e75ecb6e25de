#!/usr/bin/env bash
# Runs once, when the PostgreSQL container initialises its data directory
# (/docker-entrypoint-initdb.d): one database and one login role per service, so no service
# can read another's data (DESIGN.md).
#
# Each role's password is taken from the service's own secret, its database URL
# (`database-url.<service>`, mounted at /run/secrets), so the URL the service connects with
# and the role's password cannot drift apart. The superuser's password comes from
# POSTGRES_PASSWORD_FILE. Nothing here is in the environment or the repository.
set -euo pipefail

# The four services' databases, and intake's key store (apart from intake's data).
DATABASES=(intake coaching courses reporting intake_keys)

# The password of postgresql://<user>:<password>@<host>/<database> in file $1, checked to
# name the role and database the service must use; percent-escapes are decoded.
password_of() {
  local service=$1 file=/run/secrets/database-url.$1 url rest userinfo location user password database
  [[ -r $file ]] || { echo "error: $file is missing" >&2; exit 1; }
  url=$(<"$file")
  url=${url%$'\r'}
  [[ $url == postgresql://* || $url == postgres://* ]] || { echo "error: $file holds no postgresql:// URL" >&2; exit 1; }
  rest=${url#*://}
  userinfo=${rest%@*}
  location=${rest##*@}
  user=${userinfo%%:*}
  password=${userinfo#*:}
  database=${location#*/}
  database=${database%%\?*}
  if [[ $userinfo != *:* || -z $password ]]; then
    echo "error: $file: the URL carries no password" >&2
    exit 1
  fi
  if [[ $user != "$service" || $database != "durchstarten_$service" ]]; then
    echo "error: $file: $service connects as role $service to database durchstarten_$service" >&2
    exit 1
  fi
  printf '%b' "${password//%/\\x}"
}

for service in "${DATABASES[@]}"; do
  password=$(password_of "$service")
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$service" -v password="$password" -v db="durchstarten_$service" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
  echo "Database durchstarten_$service and its role $service created."
done

#!/usr/bin/env bash
# Runs once, when the PostgreSQL container initialises its data directory
# (/docker-entrypoint-initdb.d): one database and its login roles per service, so no service
# can read another's data (DESIGN.md).
#
# intake, coaching and courses hold person-level rows and an audit trail their own role
# must not rewrite: each gets an owner role (`<service>_owner`, owns the database, runs the
# migrations) and a runtime role (`<service>`, may connect; the owner grants it data rights
# at each start). reporting (it makes tables while it runs) and intake's key store get one
# role, owning the database.
#
# Each role's password is taken from the service's own secrets, its database URLs
# (`database-url.<service>`, `database-owner-url.<service>`, mounted at /run/secrets), so
# the URL a service connects with and the role's password cannot drift apart. The
# superuser's password comes from POSTGRES_PASSWORD_FILE. Nothing here is in the
# environment or the repository.
set -euo pipefail

# Where the secrets are mounted (another folder only for the test that runs this script).
secrets=${DURCHSTARTEN_SECRETS_DIR:-/run/secrets}

# The four services' databases, and intake's key store (apart from intake's data).
DATABASES=(intake coaching courses reporting intake_keys)
SPLIT_ROLES=(intake coaching courses)

# The password of postgresql://<user>:<password>@<host>/<database> in file $1, checked to
# name role $2 and database $3; percent-escapes are decoded.
password_of() {
  local file=$1 role=$2 db=$3 url rest userinfo location user password database
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
  if [[ $user != "$role" || $database != "$db" ]]; then
    echo "error: $file: connects as role $role to database $db" >&2
    exit 1
  fi
  printf '%b' "${password//%/\\x}"
}

split() {
  local name
  for name in "${SPLIT_ROLES[@]}"; do [[ $name == "$1" ]] && return 0; done
  return 1
}

for service in "${DATABASES[@]}"; do
  db="durchstarten_$service"
  password=$(password_of "$secrets/database-url.$service" "$service" "$db")
  owner=$service
  if split "$service"; then
    owner="${service}_owner"
    owner_password=$(password_of "$secrets/database-owner-url.$service" "$owner" "$db")
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
      -v role="$owner" -v password="$owner_password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
SQL
  fi
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$service" -v password="$password" -v owner="$owner" -v db="$db" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";
SQL
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$db" -v owner="$owner" <<'SQL'
ALTER SCHEMA public OWNER TO :"owner";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
  echo "Database $db created, owned by $owner; $service connects."
done

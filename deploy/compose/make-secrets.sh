#!/usr/bin/env bash
# Writes the secret files docker-compose.yml reads, with fresh random values, into
# ./secrets/ beside docker-compose.yml (or the folder given as $1):
#
#   postgres-superuser-password       PostgreSQL's superuser (POSTGRES_PASSWORD_FILE)
#   database-url.<service>            each service's own database URL, with its password
#   database-owner-url.<service>      intake, coaching, courses: the owner role's URL (migrations)
#   intake-vault-key                  32 random bytes, base64: wraps every participant's key
#   intake-blind-index-key            32 random bytes, base64: the duplicate search's index key
#   kafka-admin                       the broker's super user (topics, ACLs, credentials)
#   kafka-service.<service>           each service's SCRAM password
#   kafka-provider.<provider>         each provider's SCRAM password, to hand to that provider
#
# A file that exists is never changed, so running it again only adds what is missing (a new
# provider in DURCHSTARTEN_PROVIDERS, say). The folder is the owner's alone (0700) and holds
# a .gitignore of `*`; the files are 0644 so the containers' users can read their bind mounts.
# Back up intake-vault-key apart from the database: without it no identity can be read again.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
target=${1:-$here/../../secrets}
providers=${DURCHSTARTEN_PROVIDERS:-awo-bielefeld,awo-owl,caritas-guetersloh,diakonie-herford,in-via}
services=(intake coaching courses reporting)
# One database each, and intake's key store apart from intake's data.
databases=("${services[@]}" intake_keys)
# Services whose runtime role has data rights only; an owner role runs their migrations.
split_roles=(intake coaching courses)

random_hex() {
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

write() {
  local file=$target/$1 value=$2
  if [[ -e $file ]]; then
    echo "kept     $file"
  else
    printf '%s\n' "$value" >"$file"
    chmod 644 "$file"
    echo "written  $file"
  fi
}

mkdir -p "$target"
chmod 700 "$target"
[[ -e $target/.gitignore ]] || printf '# Secrets: never committed.\n*\n' >"$target/.gitignore"

write postgres-superuser-password "$(random_hex)"
for database in "${databases[@]}"; do
  write "database-url.$database" \
    "postgresql://$database:$(random_hex)@postgres:5432/durchstarten_$database"
done
for service in "${split_roles[@]}"; do
  write "database-owner-url.$service" \
    "postgresql://${service}_owner:$(random_hex)@postgres:5432/durchstarten_$service"
done
write intake-vault-key "$(head -c 32 /dev/urandom | base64)"
write intake-blind-index-key "$(head -c 32 /dev/urandom | base64)"
write kafka-admin "$(random_hex)"
for service in "${services[@]}"; do
  write "kafka-service.$service" "$(random_hex)"
done
for provider in ${providers//,/ }; do
  write "kafka-provider.$provider" "$(random_hex)"
done

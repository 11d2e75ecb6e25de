#!/usr/bin/env bash
# One-shot, once the broker is healthy (docker-compose.yml `kafka-users`, apache/kafka image):
# makes the SCRAM-SHA-512 credentials of the broker match the secret files, as the admin.
#
# - every service (`service.<name>`) and every provider of DURCHSTARTEN_PROVIDERS
#   (`provider.<id>`) gets the password in its secret file `kafka-<principal>`; a changed
#   file changes the password (the next login needs the new one);
# - a provider that is no longer in DURCHSTARTEN_PROVIDERS loses its credential, so it can
#   no longer log in at all.
#
# The admin's own credential is made when the storage is formatted (kafka-init.sh).
# What each principal may do is the topics job's part (ACLs from messaging/access.py).
set -euo pipefail
umask 077
# shellcheck source=deploy/compose/common.sh
source "$(dirname "$0")/common.sh"

SERVICES=(intake coaching courses reporting) # messaging/access.py SERVICES
CA_FILE=/etc/kafka/ca/ca.pem
BOOTSTRAP=${BOOTSTRAP_SERVERS:?BOOTSTRAP_SERVERS names the broker}
ITERATIONS=8192

configs() {
  /opt/kafka/bin/kafka-configs.sh --bootstrap-server "$BOOTSTRAP" --command-config "$WORK/admin.properties" "$@"
}

upsert() {
  local principal=$1 password
  password=$(read_password "$SECRETS_DIR/kafka-$principal")
  # From a file, not `--add-config`: no password on a command line.
  printf 'SCRAM-SHA-512=iterations=%s,password=%s\n' "$ITERATIONS" "$password" >"$WORK/scram.properties"
  configs --alter --entity-type users --entity-name "$principal" --add-config-file "$WORK/scram.properties" >/dev/null
  rm -f "$WORK/scram.properties"
  echo "SCRAM-SHA-512 credential of $principal set."
}

main() {
  local admin principal provider wanted=" "
  admin=$(read_password "$SECRETS_DIR/kafka-admin")
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  cat >"$WORK/admin.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
ssl.truststore.type=PEM
ssl.truststore.location=$CA_FILE
EOF
  for provider in $(provider_ids); do
    [[ -r $SECRETS_DIR/kafka-provider.$provider ]] ||
      die "provider $provider has no secret kafka-provider.$provider: add it to docker-compose.yml (deploy/compose/README.md)"
  done
  for principal in "${SERVICES[@]/#/service.}" $(provider_ids | sed 's/^/provider./'); do
    upsert "$principal"
    wanted+="$principal "
  done
  # Providers with a credential on the broker that the list no longer names.
  while read -r principal; do
    if [[ $principal == provider.* && $wanted != *" $principal "* ]]; then
      configs --alter --entity-type users --entity-name "$principal" --delete-config SCRAM-SHA-512 >/dev/null
      echo "SCRAM credential of $principal deleted: the provider is no longer configured."
    fi
  done < <(configs --describe --entity-type users |
    sed -n "s/^SCRAM credential configs for user-principal '\([^']*\)' are .*/\1/p")
}

main "$@"

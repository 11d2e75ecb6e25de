#!/usr/bin/env bash
# One-shot, before the broker (docker-compose.yml `kafka-init`, apache/kafka image, as root):
#
# 1. TLS. A CA of the deployment's own, made once: its key stays in the `kafka-ca-key`
#    volume, which only this job mounts; its certificate goes to the `kafka-ca` volume, which
#    the services mount and which is handed to the providers. At every run a fresh broker
#    key and certificate (valid for the names in BROKER_HOSTS) are signed by it into a
#    PKCS#12 keystore with a random password, in the broker's `kafka-secrets` volume.
#    Nothing of it is ever in the repository or the image.
# 2. SASL. The broker's JAAS file (admin login for the inter-broker SCRAM and the
#    controller's PLAIN listener) and the admin's client config for the health check, both
#    from the `kafka-admin` secret; rewritten at every run, so a changed file takes effect.
# 3. Storage. A new data volume is formatted with the admin's SCRAM credential
#    (`kafka-storage format --add-scram`): the broker logs in to itself as the admin from its
#    first start on. The image's own start-up format then finds the volume formatted and goes
#    on. Services' and providers' credentials come later, from `kafka-users.sh`.
#
# The format reads the same KAFKA_* variables as the broker, turned into server.properties
# by the image's rule (KafkaDockerWrapper): drop the KAFKA_ prefix, lower case, `_` -> `.`,
# `___` -> `-`, `__` -> `_`.
set -euo pipefail
umask 077
# shellcheck source=deploy/compose/common.sh
source "$(dirname "$0")/common.sh"

BROKER_DIR=/etc/kafka/secrets # the broker's private files (volume kafka-secrets)
CA_DIR=/etc/kafka/ca          # the CA certificate, public (volume kafka-ca)
CA_KEY_DIR=/etc/kafka/ca-key  # the CA's key (volume kafka-ca-key, this job only)
DATA_DIR=${KAFKA_LOG_DIRS:?KAFKA_LOG_DIRS names the data volume}
OWNER=appuser                 # the image's user, who runs the broker
CA_DAYS=3650
BROKER_DAYS=398               # re-issued whenever this job runs (README.md here)

IMAGE_ONLY_VARIABLES=" KAFKA_VERSION KAFKA_HEAP_OPTS KAFKA_LOG4J_OPTS KAFKA_OPTS KAFKA_JMX_OPTS \
KAFKA_JVM_PERFORMANCE_OPTS KAFKA_GC_LOG_OPTS KAFKA_LOG4J_ROOT_LOGLEVEL KAFKA_LOG4J_LOGGERS \
KAFKA_TOOLS_LOG4J_LOGLEVEL KAFKA_JMX_HOSTNAME "

# server.properties as the image renders it from the KAFKA_* environment.
render_properties() {
  local line key value name
  while IFS= read -r line; do
    key=${line%%=*}
    value=${line#*=}
    [[ $key == KAFKA_* && $IMAGE_ONLY_VARIABLES != *" $key "* ]] || continue
    name=$(tr '[:upper:]' '[:lower:]' <<<"${key#KAFKA_}" | sed -e 's/_/./g' -e 's/\.\.\./-/g' -e 's/\.\./_/g')
    printf '%s=%s\n' "$name" "$value"
  done < <(env)
}

# keytool's subject alternative names for BROKER_HOSTS: IP addresses as ip:, names as dns:.
subject_alternative_names() {
  local host name names=()
  for host in ${BROKER_HOSTS//,/ }; do
    if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then
      name=ip:$host
    else
      name=dns:$host
    fi
    [[ " ${names[*]} " == *" $name "* ]] || names+=("$name") # once each
  done
  ((${#names[@]})) || die "BROKER_HOSTS names no host"
  local IFS=,
  printf '%s' "${names[*]}"
}

make_ca() {
  mkdir -p "$CA_KEY_DIR" "$CA_DIR"
  chmod 700 "$CA_KEY_DIR"
  if [[ ! -s $CA_KEY_DIR/ca.p12 ]]; then
    echo "Making the deployment's Kafka CA (once; its certificate is $CA_DIR/ca.pem) ..."
    random_hex >"$CA_KEY_DIR/ca.password"
    keytool -genkeypair -alias ca -keyalg EC -groupname secp384r1 -sigalg SHA384withECDSA \
      -dname "CN=Durchstarten Kafka CA" -validity "$CA_DAYS" \
      -ext bc:c=ca:true,pathlen:0 -ext ku:c=keyCertSign,cRLSign \
      -storetype PKCS12 -keystore "$CA_KEY_DIR/ca.p12" -storepass:file "$CA_KEY_DIR/ca.password"
  fi
  keytool -exportcert -rfc -alias ca -keystore "$CA_KEY_DIR/ca.p12" \
    -storepass:file "$CA_KEY_DIR/ca.password" -file "$CA_DIR/ca.pem.new"
  chmod 644 "$CA_DIR/ca.pem.new"
  mv "$CA_DIR/ca.pem.new" "$CA_DIR/ca.pem"
  chmod 755 "$CA_DIR"
}

make_broker_keystore() {
  local work=$1 names
  names=$(subject_alternative_names)
  echo "Issuing the broker's certificate for $names ..."
  random_hex >"$work/keystore.password"
  keytool -genkeypair -alias broker -keyalg EC -groupname secp256r1 -sigalg SHA256withECDSA \
    -dname "CN=${BROKER_HOSTS%%,*}" -validity "$BROKER_DAYS" \
    -storetype PKCS12 -keystore "$work/broker.p12" -storepass:file "$work/keystore.password"
  keytool -certreq -alias broker -keystore "$work/broker.p12" \
    -storepass:file "$work/keystore.password" -file "$work/broker.csr"
  keytool -gencert -rfc -alias ca -keystore "$CA_KEY_DIR/ca.p12" \
    -storepass:file "$CA_KEY_DIR/ca.password" -infile "$work/broker.csr" \
    -outfile "$work/broker.pem" -validity "$BROKER_DAYS" \
    -ext "san=$names" -ext ku:c=digitalSignature -ext eku=serverAuth,clientAuth
  cat "$work/broker.pem" "$CA_DIR/ca.pem" >"$work/chain.pem"
  keytool -importcert -noprompt -alias broker -keystore "$work/broker.p12" \
    -storepass:file "$work/keystore.password" -file "$work/chain.pem"
  install -m 600 -o "$OWNER" -g "$OWNER" "$work/broker.p12" "$BROKER_DIR/broker.p12"
  install -m 600 -o "$OWNER" -g "$OWNER" "$work/keystore.password" \
    "$BROKER_DIR/broker-keystore.password"
}

write_logins() {
  local work=$1 admin=$2
  local scram=org.apache.kafka.common.security.scram.ScramLoginModule
  local plain=org.apache.kafka.common.security.plain.PlainLoginModule
  # One section per listener (`<listener>.KafkaServer`); only the admin logs in anywhere
  # from inside the broker. The controller listener takes PLAIN, since a KRaft controller
  # cannot check SCRAM credentials (they live in the metadata it serves).
  cat >"$work/broker_jaas.conf" <<EOF
internal_ssl.KafkaServer {
  $scram required
  username="admin"
  password="$admin";
};
external_ssl.KafkaServer {
  $scram required;
};
controller.KafkaServer {
  $plain required
  username="admin"
  password="$admin"
  user_admin="$admin";
};
EOF
  cat >"$work/admin.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$scram required username="admin" password="$admin";
ssl.truststore.type=PEM
ssl.truststore.location=$CA_DIR/ca.pem
EOF
  install -m 600 -o "$OWNER" -g "$OWNER" "$work/broker_jaas.conf" "$BROKER_DIR/broker_jaas.conf"
  install -m 600 -o "$OWNER" -g "$OWNER" "$work/admin.properties" "$BROKER_DIR/admin.properties"
}

format_storage() {
  local work=$1 admin=$2
  if [[ -e $DATA_DIR/meta.properties ]]; then
    echo "Kafka storage in $DATA_DIR is formatted already."
  else
    echo "Formatting Kafka storage in $DATA_DIR with the admin's SCRAM credential ..."
    render_properties >"$work/server.properties"
    # The password is on this command line for a moment: the tool takes it no other way,
    # and nothing else runs in this container.
    /opt/kafka/bin/kafka-storage.sh format --cluster-id="${CLUSTER_ID:?}" \
      --config "$work/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=admin,password=$admin]"
  fi
  chown -R "$OWNER:$OWNER" "$DATA_DIR"
}

main() {
  local admin
  admin=$(read_password "$SECRETS_DIR/kafka-admin")
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  mkdir -p "$BROKER_DIR"
  chown "$OWNER:$OWNER" "$BROKER_DIR"
  chmod 700 "$BROKER_DIR"
  make_ca
  make_broker_keystore "$WORK"
  write_logins "$WORK" "$admin"
  format_storage "$WORK" "$admin"
  echo "Kafka is ready to start: TLS for $BROKER_HOSTS, SCRAM for the admin."
}

main "$@"

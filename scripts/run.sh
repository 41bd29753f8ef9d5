#!/usr/bin/env bash
# Starts closedloop locally: builds the release binaries, starts a nats-server with JetStream
# (unless CLOOP_NATS_URL names one), cloop-intake, cloop-workflow, cloop-webhook, cloop-notify
# (customer notices, written to a local file) and cloop-console (the web console) with the demo
# configuration and tokens, waits until they listen, prints where and a few commands to try, and
# stops all of them cleanly on Ctrl-C. Data lives under .data/ (`make clean-data` removes it).
#
# Environment: CLOOP_BUILD_PROFILE (release or debug), CLOOP_SKIP_BUILD (set: start what is
# already built, no cargo at all), CLOOP_NATS_URL (use this NATS instead of starting one),
# CLOOP_NATS_PORT (port of the local nats-server, default 14222), CLOOP_DATA (data folder,
# default .data), and the addresses: CLOOP_INTAKE_LISTEN (default 127.0.0.1:50051),
# CLOOP_WORKFLOW_LISTEN (127.0.0.1:50052), CLOOP_WEBHOOK_LISTEN (127.0.0.1:8080),
# CLOOP_CONSOLE_LISTEN (127.0.0.1:8090), CLOOP_INTAKE_METRICS (127.0.0.1:9451),
# CLOOP_WORKFLOW_METRICS (127.0.0.1:9452), CLOOP_WEBHOOK_METRICS (127.0.0.1:9453),
# CLOOP_NOTIFY_METRICS (127.0.0.1:9454). The local
# nats-server runs deploy/nats/single.conf: every service logs in as its own identity with a
# password made on the first run (kept in <data>/nats-identities, mode 0600).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
data=${CLOOP_DATA:-$root/.data}
config=$root/deploy/config/demo.toml
tokens=$root/deploy/config/demo-tokens.toml
intake_listen=${CLOOP_INTAKE_LISTEN:-127.0.0.1:50051}
workflow_listen=${CLOOP_WORKFLOW_LISTEN:-127.0.0.1:50052}
intake_metrics=${CLOOP_INTAKE_METRICS:-127.0.0.1:9451}
workflow_metrics=${CLOOP_WORKFLOW_METRICS:-127.0.0.1:9452}
webhook_listen=${CLOOP_WEBHOOK_LISTEN:-127.0.0.1:8080}
webhook_metrics=${CLOOP_WEBHOOK_METRICS:-127.0.0.1:9453}
notify_metrics=${CLOOP_NOTIFY_METRICS:-127.0.0.1:9454}
console_listen=${CLOOP_CONSOLE_LISTEN:-127.0.0.1:8090}
mkdir -p "$data"

# CLOOP_BUILD_PROFILE=debug uses the binaries `make build` made (the quick-start check in `make test`
# does); CLOOP_SKIP_BUILD=1 starts what is already built. The build commands are exactly those
# of the README (`cargo build --release --bins --locked`) and of `make build`: the same
# packages with the same features, so after either of them this build compiles nothing.
profile=${CLOOP_BUILD_PROFILE:-release}
if [[ -z "${CLOOP_SKIP_BUILD:-}" ]]; then
    echo "building $profile binaries ..."
    if [[ $profile == release ]]; then
        cargo build --release --bins --locked
    else
        cargo build --workspace --bins --locked --features intake/failpoints,workflow/failpoints
    fi
fi
bin=$root/target/$profile

pids=()
names=()
stopping=0
stop_all() {
    trap - INT TERM EXIT
    stopping=1
    echo
    # Stop in reverse order: console, notify, webhook, workflow, intake, then nats-server.
    for ((index = ${#pids[@]} - 1; index >= 0; index--)); do
        pid=${pids[$index]}
        if kill -0 "$pid" 2>/dev/null; then
            echo "stopping ${names[$index]} (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    echo "stopped; data kept in $data"
}
trap stop_all INT TERM EXIT

start() {
    local name=$1
    shift
    "$@" >"$data/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
}

wait_for_port() {
    local name=$1 address=$2
    local host=${address%:*} port=${address##*:}
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            return 0
        fi
        local last=$((${#pids[@]} - 1))
        if ! kill -0 "${pids[$last]}" 2>/dev/null; then
            echo "error: $name exited; its log ($data/$name.log) ends with:" >&2
            tail -n 20 "$data/$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "error: $name does not listen on $address; see $data/$name.log" >&2
    exit 1
}

if [[ -n "${CLOOP_NATS_URL:-}" ]]; then
    nats_url=$CLOOP_NATS_URL
    echo "using NATS at $nats_url"
else
    nats_port=${CLOOP_NATS_PORT:-14222}
    nats_bin=${CLOOP_NATS_SERVER:-$root/.tools/bin/nats-server}
    [[ -x "$nats_bin" ]] || nats_bin=$(command -v nats-server)
    mkdir -p "$data/nats"
    # The identities of deploy/nats/single.conf, each with a random password made on the first
    # run and kept in $nats_secrets (mode 0600), used again on the next. nats-server reads them
    # from its environment; each service gets only its own, as a file. A password starts with a
    # letter: nats-server reads a value from the environment as a config token, and one that
    # starts with a digit can be taken for a number.
    nats_secrets=$data/nats-identities
    mkdir -p "$nats_secrets"
    chmod 700 "$nats_secrets"
    nats_env=()
    for identity in admin intake workflow notify webhook adapter-app; do
        file=$nats_secrets/$identity.password
        if [[ ! -s $file ]]; then
            (umask 077 && { printf p; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; } >"$file")
        fi
        chmod 600 "$file"
        variable=CLOOP_NATS_$(printf '%s' "$identity" | tr 'a-z-' 'A-Z_')_PASSWORD
        nats_env+=("$variable=$(cat "$file")")
    done
    # single.conf with this run's port and store, and without its monitoring port.
    sed -e "s#^listen: .*#listen: 127.0.0.1:$nats_port#" -e '/^http: /d' \
        -e "s#store_dir: .*#store_dir: \"$data/nats\"#" \
        "$root/deploy/nats/single.conf" >"$data/nats.conf"
    start nats-server env "${nats_env[@]}" "$nats_bin" -c "$data/nats.conf"
    wait_for_port nats-server "127.0.0.1:$nats_port"
    nats_url=nats://127.0.0.1:$nats_port
fi

# The NATS login of one service (in the array `login`): its own identity when this script
# started nats-server, nothing otherwise.
nats_login() {
    login=()
    if [[ -n "${nats_secrets:-}" ]]; then
        login=("CLOOP_NATS_USER=$1" "CLOOP_NATS_PASSWORD_FILE=$nats_secrets/$1.password")
    fi
}

export CLOOP_NATS_URL=$nats_url CLOOP_CONFIG=$config CLOOP_TOKENS=$tokens
nats_login intake
start cloop-intake env "${login[@]}" "$bin/cloop-intake" --listen "$intake_listen" \
    --metrics-listen "$intake_metrics" --data-dir "$data/intake"
wait_for_port cloop-intake "$intake_listen"
nats_login workflow
start cloop-workflow env "${login[@]}" "$bin/cloop-workflow" --listen "$workflow_listen" \
    --metrics-listen "$workflow_metrics" --data-dir "$data/workflow"
wait_for_port cloop-workflow "$workflow_listen"
nats_login webhook
start cloop-webhook env "${login[@]}" "$bin/cloop-webhook" --listen "$webhook_listen" \
    --metrics-listen "$webhook_metrics"
wait_for_port cloop-webhook "$webhook_listen"
# cloop-notify tells customers what happens to their ticket; with the demo configuration every
# notice goes to a file (deploy/config/demo.toml, [notify.file]), as the demo service token.
notices=$data/notify/notices.jsonl
nats_login notify
start cloop-notify env "${login[@]}" CLOOP_NOTIFY_TOKEN=demo-service "$bin/cloop-notify" \
    --metrics-listen "$notify_metrics" --data-dir "$data/notify" --workflow "http://$workflow_listen"
wait_for_port cloop-notify "$notify_metrics"
# The console reads who may sign in from CLOOP_TOKENS (exported above) and calls the workflow
# with each person's own token.
start cloop-console "$bin/cloop-console" --listen "$console_listen" \
    --workflow "http://$workflow_listen" --intake "http://$intake_listen"
wait_for_port cloop-console "$console_listen"

cat <<TEXT

closedloop is running (logs and data in $data):
  nats-server     $nats_url${nats_secrets:+   identities and passwords in $nats_secrets}
  cloop-intake    $intake_listen   metrics http://$intake_metrics/metrics
  cloop-workflow  $workflow_listen   metrics http://$workflow_metrics/metrics
  cloop-webhook   http://$webhook_listen   metrics http://$webhook_metrics/metrics
  cloop-notify    notices to customers in $notices   metrics http://$notify_metrics/metrics
  cloop-console   http://$console_listen   (web console: sign in with a demo token below)

Demo tokens (deploy/config/demo-tokens.toml, demo only): demo-adapter, demo-service,
demo-agent-technical, demo-head-technical, demo-agent-logistics, demo-manager, demo-auditor,
demo-admin. Try:

  export CLOOP_INTAKE=http://$intake_listen CLOOP_WORKFLOW=http://$workflow_listen
  $bin/cloop --token demo-adapter submit --channel app --content "APP卡顿，打开很慢" --phone 13800138000
  $bin/cloop --token demo-agent-technical tickets list --department technical --step handle
  $bin/cloop --token demo-agent-technical ack <TICKET_ID> --message "我们正在处理"
  $bin/cloop --token demo-agent-technical tickets watch --department technical
  $bin/cloop --token demo-service tickets sla <TICKET_ID>

  tail -f $notices     # what each customer is told

Signed HTTP submissions to cloop-webhook (channel web, demo secret): see docs/adapters.md.

Press Ctrl-C to stop everything.
TEXT

# Wait until one of them exits (or Ctrl-C, which runs stop_all).
wait -n "${pids[@]}" || true
if [[ $stopping == 0 ]]; then
    echo "a process exited; stopping the others"
fi

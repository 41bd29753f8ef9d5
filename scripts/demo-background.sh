#!/usr/bin/env bash
# Sourced by the checks that need the demo of `make run` in the background
# (scripts/docs-examples-check.sh, scripts/quickstart-check.sh). Defines:
#   demo_start NAME DATA LOG   start scripts/run.sh with the binaries of this build
#                              (CLOOP_BUILD_PROFILE, default debug; CLOOP_SKIP_BUILD=1) in its
#                              own process group, data in DATA, output in LOG, every service
#                              and nats-server on a free port (not the defaults of `make run`,
#                              which something else on the machine may hold); exports
#                              DEMO_INTAKE, DEMO_WORKFLOW, DEMO_WEBHOOK and DEMO_CONSOLE
#                              (host:port) for the check
#   demo_wait                  until it says "closedloop is running"; on failure print LOG
#   demo_interrupt [TENTHS]    Ctrl-C (SIGINT) to the group; fails when it still runs after
#                              TENTHS tenths of a second (default 100)
#   demo_stop                  demo_interrupt, then SIGKILL to the group when it still runs
# NAME prefixes the messages. Run from the repository's root.

# COUNT distinct ports free on 127.0.0.1 now, one per line, below the kernel's ephemeral range
# (32768 and up by default), so that no outgoing connection (a service's own, to nats-server)
# can be given one of them before its service binds it.
demo_free_ports() {
    python3 - "$1" <<'PY'
import random, socket, sys
low, high = 20000, 32000
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ephemeral:
        high = min(high, int(ephemeral.read().split()[0]) - 1)
except (OSError, ValueError, IndexError):
    pass
wanted, chosen = int(sys.argv[1]), []
candidates = random.sample(range(low, high), min(2000, high - low))
for port in candidates:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            continue
    chosen.append(port)
    if len(chosen) == wanted:
        break
if len(chosen) < wanted:
    sys.exit("no free ports between %d and %d" % (low, high))
print("\n".join(map(str, chosen)))
PY
}

demo_start() {
    demo_name=$1 demo_log=$3
    local ports
    mapfile -t ports < <(demo_free_ports 9)
    if [[ ${#ports[@]} != 9 ]]; then
        echo "$demo_name: could not find free ports for the demo" >&2
        return 1
    fi
    export DEMO_INTAKE=127.0.0.1:${ports[0]} DEMO_WORKFLOW=127.0.0.1:${ports[1]}
    export DEMO_WEBHOOK=127.0.0.1:${ports[2]} DEMO_CONSOLE=127.0.0.1:${ports[3]}
    CLOOP_BUILD_PROFILE=${CLOOP_BUILD_PROFILE:-debug} CLOOP_SKIP_BUILD=1 CLOOP_DATA=$2 \
        CLOOP_NATS_PORT=${ports[4]} CLOOP_INTAKE_LISTEN=$DEMO_INTAKE \
        CLOOP_WORKFLOW_LISTEN=$DEMO_WORKFLOW CLOOP_WEBHOOK_LISTEN=$DEMO_WEBHOOK \
        CLOOP_CONSOLE_LISTEN=$DEMO_CONSOLE CLOOP_INTAKE_METRICS=127.0.0.1:${ports[5]} \
        CLOOP_WORKFLOW_METRICS=127.0.0.1:${ports[6]} CLOOP_WEBHOOK_METRICS=127.0.0.1:${ports[7]} \
        CLOOP_NOTIFY_METRICS=127.0.0.1:${ports[8]} \
        setsid ./scripts/run.sh >"$demo_log" 2>&1 &
    demo_pid=$!
}

demo_wait() {
    local _
    for _ in $(seq 1 600); do
        grep -q "closedloop is running" "$demo_log" && return 0
        kill -0 "$demo_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$demo_name: the demo did not come up (scripts/run.sh says):" >&2
    cat "$demo_log" >&2
    return 1
}

demo_interrupt() {
    local _
    kill -INT -- -"$demo_pid" 2>/dev/null || true
    for _ in $(seq 1 "${1:-100}"); do
        kill -0 "$demo_pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

demo_stop() {
    demo_interrupt || kill -KILL -- -"$demo_pid" 2>/dev/null || true
}

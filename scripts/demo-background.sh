#!/usr/bin/env bash
# Sourced by the checks that need the demo of `make run` in the background
# (scripts/docs-examples-check.sh, scripts/quickstart-check.sh). Defines:
#   demo_start NAME DATA LOG   start scripts/run.sh with the binaries of this build
#                              (CLOOP_BUILD_PROFILE, default debug; CLOOP_SKIP_BUILD=1) in its
#                              own process group, data in DATA, output in LOG
#   demo_wait                  until it says "closedloop is running"; on failure print LOG
#   demo_interrupt [TENTHS]    Ctrl-C (SIGINT) to the group; fails when it still runs after
#                              TENTHS tenths of a second (default 100)
#   demo_stop                  demo_interrupt, then SIGKILL to the group when it still runs
# NAME prefixes the messages. Run from the repository's root.

demo_start() {
    demo_name=$1 demo_log=$3
    CLOOP_BUILD_PROFILE=${CLOOP_BUILD_PROFILE:-debug} CLOOP_SKIP_BUILD=1 CLOOP_DATA=$2 \
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

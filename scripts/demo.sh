#!/usr/bin/env bash
# `make demo`: everything `make run` does, then a realistic mixed load from
# deploy/config/demo-feedback.csv (suggestions, complaints, an urgent safety report, a payment
# problem, praise, and two duplicates that must not become tickets), then the department
# queues, and moves a few tickets on (acknowledged, solved, archived) for the web console. The
# services keep running until Ctrl-C, which stops all of them cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
profile=${CLOOP_BUILD_PROFILE:-release}
data=${CLOOP_DATA:-$root/.data}
mkdir -p "$data"
log=$data/run.out
bin=$root/target/$profile

CLOOP_BUILD_PROFILE=$profile CLOOP_DATA=$data setsid ./scripts/run.sh >"$log" 2>&1 &
runner=$!
stop() {
    trap - INT TERM EXIT
    kill -INT -- -"$runner" 2>/dev/null || true
    wait "$runner" 2>/dev/null || true
    tail -n 5 "$log"
}
trap stop INT TERM EXIT

echo "starting closedloop (build and start; output in $log) ..."
until grep -q "closedloop is running" "$log"; do
    if ! kill -0 "$runner" 2>/dev/null; then
        cat "$log" >&2
        exit 1
    fi
    sleep 0.2
done
sed -n '/closedloop is running/,/Press Ctrl-C/p' "$log"

export CLOOP_INTAKE=http://127.0.0.1:50051 CLOOP_WORKFLOW=http://127.0.0.1:50052
echo
echo "feeding deploy/config/demo-feedback.csv (18 rows, 2 of them duplicates) ..."
"$bin/cloop" --token demo-adapter submit --csv deploy/config/demo-feedback.csv || true
sleep 1
for department in technical product quality logistics after_sales customer_service operations marketing; do
    echo
    echo "== queue of $department"
    "$bin/cloop" --token demo-admin tickets list --department "$department" || true
done
echo
echo "== waiting for a person (classify or dispatch step)"
"$bin/cloop" --token demo-service tickets list --step classify || true
"$bin/cloop" --token demo-service tickets list --step dispatch || true
echo
echo "== moving a few tickets on, so that the console has one in every step"
# As the demo admin: one acknowledged, one with an approved solution (step review), one
# solved, reviewed and archived. A refusal (a step that does not allow it) is
# shown and the demo goes on.
handle=$("$bin/cloop" --json --token demo-admin tickets list --step handle |
    python3 -c 'import json, sys; print(" ".join(t["ticket_id"] for t in json.load(sys.stdin)))') || handle=""
read -r -a moving <<<"$handle"
admin() { "$bin/cloop" --token demo-admin "$@" >/dev/null || echo "  (refused: cloop $1 $2)"; }
solve() { admin solve "$1" --outcome fixed --text "已处理，请查收" || true; }
if ((${#moving[@]} >= 3)); then
    admin ack "${moving[0]}" --message "我们正在处理"
    for ticket in "${moving[1]}" "${moving[2]}"; do
        solve "$ticket"
        # An adopted suggestion or a complaint may wait for the head's approval.
        "$bin/cloop" --token demo-admin approve "$ticket" >/dev/null 2>&1 || true
    done
    admin review "${moving[2]}" --satisfaction 5 --comment "满意"
    admin archive "${moving[2]}"
    echo "  acknowledged ${moving[0]}, in review ${moving[1]}, archived ${moving[2]}"
fi
echo
echo "Open the web console at http://${CLOOP_CONSOLE_LISTEN:-127.0.0.1:8090} and sign in with demo-service,"
echo "demo-agent-technical, demo-head-technical, demo-manager or demo-auditor."
echo "Try: $bin/cloop --token demo-manager report monthly --month $(date +%Y-%m) --html report.html"
echo "Press Ctrl-C to stop everything."
wait "$runner" || true

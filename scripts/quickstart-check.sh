#!/usr/bin/env bash
# Checks that the README's quick start works as written: starts `scripts/run.sh` (the script
# behind `make run`) in the background with the binaries of this build
# (scripts/demo-background.sh) with every service on a free port, waits until they listen, submits through the CLI,
# waits until the ticket is in the technical department's queue and its receipt notice is in
# cloop-notify's file, submits once more through cloop-webhook as docs/adapters.md shows, then
# stops everything with Ctrl-C (SIGINT) and checks that all stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
profile=${CLOOP_BUILD_PROFILE:-debug}
data=$(mktemp -d /tmp/cloop-quickstart.XXXXXX)
log=$data/run.log
bin=$root/target/$profile

# shellcheck source=scripts/demo-background.sh
source scripts/demo-background.sh
cleanup() {
    demo_stop
    rm -rf "$data"
}
trap cleanup EXIT
CLOOP_BUILD_PROFILE=$profile demo_start "quick start" "$data" "$log"
demo_wait

export CLOOP_INTAKE=http://$DEMO_INTAKE CLOOP_WORKFLOW=http://$DEMO_WORKFLOW
submitted=$("$bin/cloop" --json --token demo-adapter submit --channel app --content "APP卡顿，打开很慢" --phone 13800138000)
ticket=$(printf '%s' "$submitted" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ticket_id"])')
echo "quick start: submitted ticket $ticket"

found=0
for _ in $(seq 1 200); do
    if "$bin/cloop" --token demo-agent-technical tickets list --department technical --step handle | grep -q "$ticket"; then
        found=1
        break
    fi
    sleep 0.1
done
if [[ $found != 1 ]]; then
    echo "quick start: ticket $ticket never reached the technical queue" >&2
    cat "$log" >&2
    exit 1
fi
echo "quick start: ticket $ticket is in the technical department's queue"

# cloop-notify came up with the others and told the customer: the receipt notice of the ticket
# is in the demo's notices file.
notices=$data/notify/notices.jsonl
told=0
for _ in $(seq 1 300); do
    if grep -F "\"ticket_id\":\"$ticket\"" "$notices" 2>/dev/null | grep -qF '"notice":"received"'; then
        told=1
        break
    fi
    sleep 0.1
done
if [[ $told != 1 ]]; then
    echo "quick start: no notice of ticket $ticket in $notices" >&2
    cat "$log" >&2
    tail -n 20 "$data/cloop-notify.log" >&2 || true
    exit 1
fi
echo "quick start: cloop-notify told the customer of $ticket (in $notices)"

# The signed HTTP submission of docs/adapters.md, as written there, against cloop-webhook.
if command -v curl >/dev/null && command -v openssl >/dev/null; then
    secret=demo-webhook-secret-web
    body='{"external_id":"form-1001","customer":{"phone":"13800138000"},"content":"APP卡顿，打开很慢"}'
    ts=$(date +%s)
    sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret" | awk '{print $NF}')
    answer=$(curl -sS -X POST "http://$DEMO_WEBHOOK/v1/feedback/web" \
      -H 'Content-Type: application/json' \
      -H "X-Cloop-Timestamp: $ts" -H "X-Cloop-Signature: sha256=$sig" \
      --data-binary "$body")
    webhook_ticket=$(printf '%s' "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ticket_id"])') || {
        echo "quick start: the webhook example of docs/adapters.md failed: $answer" >&2
        cat "$log" >&2
        exit 1
    }
    echo "quick start: the signed webhook example got ticket $webhook_ticket"
else
    echo "quick start: curl or openssl missing, webhook example skipped"
fi

if ! demo_interrupt 200; then
    echo "quick start: run.sh did not stop on Ctrl-C" >&2
    exit 1
fi
grep -q "stopped; data kept" "$log" || { echo "quick start: no clean stop" >&2; cat "$log" >&2; exit 1; }
echo "quick start: stopped cleanly"

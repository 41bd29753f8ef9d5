#!/usr/bin/env bash
# Runs every shell example of README.md and docs/*.md against a started demo, so the docs
# cannot drift from the binaries: starts `scripts/run.sh` (the script behind `make run`) in the
# background with the debug binaries of `make build` (CLOOP_SKIP_BUILD=1) and every service on
# a free port (the docs' default addresses are rewritten to those), waits until it listens, then runs scripts/docs_examples.py in a scratch directory laid out like a user's:
# `target/release` is the binaries of this build, `cloop` is on PATH, and the workflow's
# `workflow.db`, `keys.db`, `checkpoints.jsonl` and the configuration `closedloop.toml` are at
# hand (fresh copies of the demo's before every block). A failure names the document and
# line. Blocks marked ```sh no-run=REASON are not run (`--list` shows them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
profile=${CLOOP_BUILD_PROFILE:-debug}
bin=$root/target/$profile
if [[ ${1:-} == --list ]]; then
    exec python3 scripts/docs_examples.py --list
fi
python3 scripts/docs_examples_selftest.py
for tool in curl openssl jq python3; do
    command -v "$tool" >/dev/null || { echo "docs examples: $tool is needed (the examples use it)" >&2; exit 1; }
done
[[ -x $bin/cloop ]] || { echo "docs examples: no $bin/cloop; run make build first" >&2; exit 1; }

data=$(mktemp -d /tmp/cloop-docs.XXXXXX)
work=$data/work
log=$data/run.log
mkdir -p "$work/target"
ln -s "$bin" "$work/target/release"

# shellcheck source=scripts/demo-background.sh
source scripts/demo-background.sh
cleanup() {
    demo_stop
    rm -rf "$data"
}
trap cleanup EXIT
demo_start "docs examples" "$data/demo" "$log"
demo_wait

cp deploy/config/demo.toml "$work/closedloop.toml"
export PATH="$bin:$PATH"
export CLOOP_INTAKE=http://$DEMO_INTAKE CLOOP_WORKFLOW=http://$DEMO_WORKFLOW
# The examples must not depend on the caller's profile or language.
export XDG_CONFIG_HOME=$data/config
unset CLOOP_TOKEN CLOOP_PROFILE CLOOP_LANG

started=$(date +%s)
if ! python3 scripts/docs_examples.py --workdir "$work" ${CLOOP_DOCS_VERBOSE:+--verbose} \
    --address "127.0.0.1:50051=$DEMO_INTAKE" --address "127.0.0.1:50052=$DEMO_WORKFLOW" \
    --address "127.0.0.1:8080=$DEMO_WEBHOOK" --address "127.0.0.1:8090=$DEMO_CONSOLE" \
    --refresh "workflow.db=$data/demo/workflow/workflow.db" \
    --refresh "keys.db=$data/demo/workflow/keys.db" \
    --refresh "checkpoints.jsonl=$data/demo/workflow/checkpoints.jsonl"; then
    echo "docs examples: the demo's log is in $log (kept: set CLOOP_DOCS_KEEP=1 to keep the data)" >&2
    [[ -n ${CLOOP_DOCS_KEEP:-} ]] && trap - EXIT
    exit 1
fi
echo "docs examples: all ran in $(($(date +%s) - started)) s"

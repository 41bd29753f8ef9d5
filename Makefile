# closedloop: a thin wrapper around cargo. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
export PATH := $(CURDIR)/.tools/bin:$(PATH)
export CLOOP_NATS_SERVER ?= $(CURDIR)/.tools/bin/nats-server
# The end-to-end fault tests crash the services at failpoints: debug builds carry them,
# release builds (`make run`, deploy) never do.
FAILPOINTS := --features intake/failpoints,workflow/failpoints

.PHONY: help tools check-postgres fmt lint check-purity check-structure check-proto check-deploy build quickstart docs-check demo test test-unit test-e2e run demo bench soak fuzz clean-data

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{ printf "  %-14s %s\n", $$1, $$2 }'

tools: ## Install what a clean machine lacks: a current nats-server into .tools/bin; as root, Chromium and a CJK font with apt-get if missing (scripts/install-chromium.sh, CLOOP_CHROMIUM skips it)
	@./scripts/install-nats-server.sh
	@command -v cargo-nextest >/dev/null || echo "note: cargo-nextest not found, tests run with cargo test"
	@./scripts/install-chromium.sh

fmt: ## Check formatting
	$(CARGO) fmt --all --check

lint: ## Clippy on every target, warnings are errors
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

check-purity: ## The domain crate must not depend on tokio, SQLite or RPC crates
	@for dep in tokio rusqlite tonic prost async-nats; do \
	  if $(CARGO) tree -p domain -e normal -i $$dep --locked >/dev/null 2>&1; then \
	    echo "error: the domain crate depends on $$dep"; exit 1; fi; done
	@echo "domain crate is pure"

check-structure: ## Files <= 1,000 lines, functions <= 120, no module cycle within a crate
	@python3 scripts/check_structure_selftest.py
	@python3 scripts/check_structure.py

check-proto: ## The .proto files compile with Python's grpcio-tools too
	@if [ -x proto/check-python.sh ]; then ./proto/check-python.sh; else echo "proto check skipped: no proto/check-python.sh"; fi

check-deploy: tools ## Validate deploy/: no demo token, ports, node ids, NATS, image, hardening (+ broken copies)
	@./scripts/check-deploy.sh

build: ## Build every binary (debug, with failpoints), used by the end-to-end tests
	$(CARGO) build --workspace --bins --locked $(FAILPOINTS)

check-postgres: ## The PostgreSQL the tests of the PostgreSQL backend use must answer
	@./scripts/check-postgres.sh

test: tools check-postgres fmt check-purity check-structure check-proto check-deploy lint build ## Everything CI checks
	@# Every test, then the end-to-end suite again with every workflow's log in PostgreSQL
	@# (CLOOP_E2E_STORE=postgres, about 2 minutes; docs/reliability.md). Intake's full-disk
	@# scenario has no workflow store to vary and ran in the first pass: it is left out.
	@# Every cargo command here names the whole workspace and the same features, so that each
	@# reuses the one build (`-p e2e` alone would unify features anew and rebuild half of it).
	@if command -v cargo-nextest >/dev/null; then \
	  $(CARGO) nextest run --workspace --locked --no-fail-fast $(FAILPOINTS) && \
	  CLOOP_E2E_STORE=postgres $(CARGO) nextest run --workspace --locked --no-fail-fast $(FAILPOINTS) \
	    -E 'package(e2e) & not test(disk_full::intake_on_a_full_disk)'; \
	else \
	  $(CARGO) test --workspace --locked --no-fail-fast $(FAILPOINTS) && \
	  CLOOP_E2E_STORE=postgres $(CARGO) test --workspace --test e2e --locked --no-fail-fast $(FAILPOINTS) -- \
	    --skip disk_full::intake_on_a_full_disk; \
	fi
	$(CARGO) test --workspace --doc --locked $(FAILPOINTS)
	./scripts/quickstart-check.sh
	./scripts/docs-examples-check.sh
	@# The fuzz targets ran above as plain tests (crates/intake/tests/fuzz_smoke.rs: 20,000 seeded
	@# inputs each, no panic allowed); `make fuzz` runs them under libFuzzer.

quickstart: build ## The README's quick start, as CI checks it (run.sh in the background, submit, see the queue, Ctrl-C)
	./scripts/quickstart-check.sh

docs-check: build ## Every shell example of README.md and docs/*.md, run against a started demo (blocks marked no-run=REASON are not)
	./scripts/docs-examples-check.sh

run: tools ## Build in release mode (as the README does; CLOOP_SKIP_BUILD=1 skips it) and start nats-server (unless CLOOP_NATS_URL is set), intake, workflow, the webhook adapter, notify (notices to a local file) and the web console
	./scripts/run.sh

demo: tools ## make run, plus a realistic mixed load (deploy/config/demo-feedback.csv) and the queues
	./scripts/demo.sh

bench: tools ## Benchmarks; figures go into docs/benchmarks.md (the end-to-end ones use the release binaries)
	$(CARGO) build --release --bins --locked
	$(CARGO) bench --workspace --locked

FUZZ_SECONDS ?= 60
fuzz: ## cargo-fuzz (libFuzzer) on the intake validator and the NATS payload decoder, FUZZ_SECONDS each
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked --root .tools
	@# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
	@cd fuzz && for target in intake_validator nats_payload; do \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

soak: tools build ## The fault suite and the NATS cluster test in their full form (CLOOP_SOAK=1, about 6 minutes); docs/reliability.md
	@if command -v cargo-nextest >/dev/null; then \
	  CLOOP_SOAK=1 $(CARGO) nextest run --workspace --locked --no-fail-fast --no-capture $(FAILPOINTS) \
	    -E 'test(faults::) | test(nats_cluster::)'; \
	else \
	  for suite in faults:: nats_cluster::; do \
	    CLOOP_SOAK=1 $(CARGO) test --workspace --test e2e --locked --no-fail-fast $(FAILPOINTS) $$suite -- --nocapture --test-threads 1 || exit 1; done; \
	fi

clean-data: ## Remove the local run's data folder (.data)
	rm -rf .data

# The project's commands. `make test` is what CI runs (after fmt and clippy, see .ci/run).

VENV        := .venv
VENV_STAMP  := $(VENV)/.installed
TOOLS_VENV  := .venv-tools
PYTHON      ?= python3

# Tests find the emulator's Python here (testkit::Emulator).
export MOTO_PYTHON := $(abspath $(VENV))/bin/python

.PHONY: demo dev gemini test load footprint fuzz venv lint lint-template sam-local dashboard-image bench clean-venv

## demo: run the whole pipeline locally (emulator, receiver, recorder, fanout) and show what happened
demo: venv
	cargo run --quiet -p local-stack --bin demo

## dev: the local pipeline kept running until Ctrl-C, a line per delivery; your secret, token, routes
## and port from WEBHOOK_SECRET, WEBHOOK_URL_TOKEN, ROUTES, DEV_PORT or ARGS="--port 9000 ..."
dev: venv
	cargo run --quiet -p local-stack --bin dev -- $(ARGS)

## gemini: the local Gemini alone (WebhookService and deliveries), for your own code: prints its base
## URL and API key (ARGS="--port 9000 --api-key KEY --finish-after never")
gemini:
	cargo run --quiet -p gemini-sim -- $(ARGS)

## test: run every test in the workspace (unit, property, emulator, end to end)
test: venv
	cargo test --workspace

## load: 10,000 signed deliveries (5 % retries) from 32 senders through the local pipeline; latency per hop,
## throughput, and every event downstream exactly once (figures in docs/performance-and-cost.md)
load: venv
	cargo run --release --quiet -p local-stack --bin load

## footprint: each function's size, cold start and RSS, beside the same receiver in Node.js
## (ARGS="--bootstraps target/lambda" for what `cargo lambda build --release` made)
footprint: venv
	npm ci --prefix bench/node-receiver --no-audit --no-fund
	cargo run --quiet -p local-stack --bin footprint -- $(ARGS)

## fuzz: every cargo-fuzz target for FUZZ_SECONDS each (default 600); CI runs them for 20 s
FUZZ_SECONDS ?= 600
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

## venv: create the Python venv holding the local AWS emulator (moto), if missing or outdated
venv: $(VENV_STAMP)

$(VENV_STAMP): testkit/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r testkit/requirements.txt
	touch $@

## lint: formatting and clippy, as CI checks them
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

## lint-template: cfn-lint and `sam validate --lint` on template.yaml
lint-template: $(TOOLS_VENV)/.installed
	$(TOOLS_VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(TOOLS_VENV)/bin/sam validate --lint --template template.yaml --region us-east-1

$(TOOLS_VENV)/.installed: tools/requirements.txt
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

## sam-local: every function under `sam local invoke` (and start-lambda) against the local emulator;
## installs a Docker engine and builds a Lambda base image when missing (root, Debian)
sam-local: venv $(TOOLS_VENV)/.installed
	tools/sam-local.sh

## dashboard-image: docs/dashboard.png, the CloudWatch dashboard's layout rendered from template.yaml
dashboard-image: $(TOOLS_VENV)/.installed
	$(TOOLS_VENV)/bin/python tools/render_dashboard.py template.yaml docs/dashboard.png

## bench: criterion benchmarks (figures in docs/performance-and-cost.md)
bench:
	cargo bench -p gemini-webhooks-aws --features sign
	cargo bench -p receiver

clean-venv:
	rm -rf $(VENV) $(TOOLS_VENV)

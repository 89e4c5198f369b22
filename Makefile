# The project's commands. `make test` is what CI runs (after fmt and clippy, see .ci/run).

VENV        := .venv
VENV_STAMP  := $(VENV)/.installed
PYTHON      ?= python3

# Tests find the emulator's Python here (testkit::Emulator).
export MOTO_PYTHON := $(abspath $(VENV))/bin/python

.PHONY: test venv lint bench clean-venv

## test: run every test in the workspace (unit, property, emulator, end to end)
test: venv
	cargo test --workspace

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

## bench: criterion benchmarks (figures in README.md)
bench:
	cargo bench -p shared

clean-venv:
	rm -rf $(VENV)

# replgame: `make test` sets up .venv and runs every suite; `make demo` plays.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed-stamp
TIMED := tools/timed
# Unit suites: SynchronousTestCase only, run by trial (no real reactor).
UNIT := tests.rules tests.server tests.client tests.test_config

.PHONY: test lint typecheck unit integration demo clean

# Reinstall only when the project's metadata changes: the editable (compat)
# install keeps code changes live, and keeps twisted/plugins visible to twistd.
$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	@touch $@

test: $(INSTALLED)
	@set -e; \
	$(TIMED) "ruff" $(VENV)/bin/ruff check game tests bench; \
	$(TIMED) "ruff format" $(VENV)/bin/ruff format --check -q game tests bench; \
	$(TIMED) "mypy --strict rules" $(VENV)/bin/mypy --strict game/rules; \
	$(TIMED) "unit (trial)" $(PY) -m twisted.trial -j2 $(UNIT); \
	echo "all suites passed"

lint: $(INSTALLED)
	$(VENV)/bin/ruff check game tests bench

demo:
	@echo "make demo arrives with the desktop game (issue 5); nothing to run yet."

clean:
	rm -rf $(VENV) _trial_temp* .hypothesis .mypy_cache .ruff_cache

# replgame: `make test` sets up .venv and runs every suite; `make demo` plays.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed-stamp
TIMED := tools/timed
# Unit suites: SynchronousTestCase only, run by trial (no real reactor).
UNIT := tests.rules tests.records tests.engine tests.server tests.client tests.test_config tests.test_ampframe \
	tests.client_gui tests.test_launcher tests.test_clusterrunner tests.test_layout tests.test_admin

.PHONY: test lint demo certs clean chaos bench

# Reinstall only when the project's metadata changes: the editable install
# keeps code changes live, and keeps twisted/plugins visible to twistd
# (tests/integration/test_install.py checks both).
# The bench extra (matplotlib) too, so the plot's smoke test runs in make test.
$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	@touch $@

test: $(INSTALLED)
	@set -e; \
	$(TIMED) "ruff" $(VENV)/bin/ruff check game tests bench; \
	$(TIMED) "ruff format" $(VENV)/bin/ruff format --check -q game tests bench; \
	$(TIMED) "mypy --strict" $(VENV)/bin/mypy --strict game; \
	$(TIMED) "unit (trial)" $(PY) -m twisted.trial -j2 $(UNIT); \
	$(TIMED) "integration (pytest)" $(PY) -m pytest tests/integration -p no:cacheprovider -q -n 2; \
	$(TIMED) "gui headless (pytest)" $(PY) -m pytest tests/gui_render -p no:cacheprovider -q; \
	$(TIMED) "gui xvfb (pytest)" $(PY) -m pytest tests/gui_xvfb -p no:cacheprovider -q; \
	$(TIMED) "chaos (pytest)" $(PY) -m pytest tests/chaos -p no:cacheprovider -q; \
	$(TIMED) "hostile (pytest)" $(PY) -m pytest tests/hostile -p no:cacheprovider -q -n 2; \
	$(TIMED) "security (pytest)" $(PY) -m pytest tests/security -p no:cacheprovider -q -n 2; \
	$(TIMED) "storage faults (pytest)" $(PY) -m pytest tests/storage_faults -p no:cacheprovider -q; \
	$(TIMED) "bench smoke (pytest)" $(PY) -m pytest tests/bench -p no:cacheprovider -q -n 2; \
	echo "all suites passed"

# make chaos [CHAOS_DURATION=600] [CHAOS_GAMES=50] [CHAOS_SEED=...]: the long chaos
# run (three servers behind fault proxies, bots, random faults; see tests/chaos).
chaos: $(INSTALLED)
	$(PY) -m tests.chaos.run --duration $${CHAOS_DURATION:-600} --games $${CHAOS_GAMES:-50} \
		$${CHAOS_SEED:+--seed $$CHAOS_SEED} $(CHAOS_ARGS)
	REPLGAME_KILL_RUNS=$${REPLGAME_KILL_RUNS:-500} $(PY) -m pytest \
		tests/storage_faults/test_kill_during_commit.py -p no:cacheprovider -q -s

# make bench [BENCH_SEED=S] [BENCH_ARGS=...]: the cluster benchmarks against a
# three-member etcd on loopback (tables printed, JSON in bench/results/, then
# docs/performance.md written from them); about 15 minutes here. Installs etcd
# (Debian's etcd-server, as root) when missing.
bench: $(INSTALLED)
	@command -v etcd >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing etcd-server (Debian) for the baseline"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -qq etcd-server >/dev/null 2>&1 || \
				{ apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null; }; \
			if command -v systemctl >/dev/null; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi; \
		else \
			echo "etcd is not installed, and installing it needs root and apt-get: run"; \
			echo "  sudo apt-get install -y etcd-server   (or put an etcd 3.4 binary on PATH)"; \
			echo "then make bench again; meanwhile the etcd halves are skipped"; \
		fi; }
	@mkdir -p bench/results
	@set -o pipefail; $(PY) -m bench $(if $(BENCH_SEED),--seed $(BENCH_SEED)) $(BENCH_ARGS) 2>&1 \
		| tee bench/results/output.txt
	$(PY) -m bench.report

lint: $(INSTALLED)
	$(VENV)/bin/ruff check game tests bench

# make demo [PLAYERS=2]: a local three-server cluster and PLAYERS game windows;
# closing the windows stops the cluster.
PLAYERS ?= 1
demo: $(INSTALLED)
	@$(PY) -m game.client_gui.demo --players $(PLAYERS) $(DEMO_ARGS)

# A local CA and certificates for servers 1-3 (TLS testing): see game/tlscerts.py.
certs: $(INSTALLED)
	$(PY) -m game.tlscerts replgame-certs

clean:
	rm -rf $(VENV) _trial_temp* .hypothesis .mypy_cache .ruff_cache

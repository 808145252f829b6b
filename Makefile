# The hub's commands. Only Python 3.11+ and make are needed; everything else is
# installed into .venv by these targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

# Processes that run the unit tests side by side (pytest-xdist); the end-to-end
# tests (real servers, browsers, faults) run one at a time after them.
TEST_WORKERS ?= 2

.PHONY: run test test-fast lint format bench clean chaos soak example

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# The example product needs the hub's Python client on top of the hub itself.
$(VENV)/.example: $(VENV)/.runtime $(wildcard clients/python/pyproject.toml)
	$(PY) -m pip install --quiet -e ./clients/python
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt tests/delivery/node/package-lock.json
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# The push service emulator the Web Push tests push to (web-push-testing).
	cd tests/delivery/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.runtime  ## serve the hub on http://127.0.0.1:8000 (web + worker + beat)
	$(PY) -m tools.devstack run

example: $(VENV)/.example  ## the example product on http://localhost:8001, the hub beside it
	$(PY) -m tools.devstack example

test: $(VENV)/.dev  ## lint, then the whole test suite against real Redis
	$(MAKE) lint
	$(PY) -m tools.devstack test -n $(TEST_WORKERS) --ignore=tests/e2e $(PYTEST_ARGS)
	$(PY) -m tools.devstack test tests/e2e $(PYTEST_ARGS)
	$(PY) -m pytest clients/python -q -p no:cacheprovider  # the client's own tests, own settings

test-fast: $(VENV)/.dev  ## the unit tests only, in parallel: no e2e, browser or fault tests
	$(PY) -m tools.devstack test -n $(TEST_WORKERS) --ignore=tests/e2e $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.dev
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# The dev requirements: the push scenario's emulator, py-spy and the python-socketio peer.
bench: $(VENV)/.dev  ## benchmarks against the real stack (docs/PERFORMANCE.md); BENCH_ARGS=--quick
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	cd tests/delivery/node && npm ci --no-audit --no-fund --loglevel=error
	$(PY) -m tools.devstack exec $(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles

chaos: $(VENV)/.dev  ## only the fault and scale-out tests (they also run in `make test`)
	$(PY) -m tools.devstack test tests/e2e/faults tests/e2e/scaleout -q $(PYTEST_ARGS)

soak: $(VENV)/.dev  ## 2,000 sockets of mixed traffic for SOAK_SECS (600), a Redis restart midway; not in CI
	$(PY) -m tools.soak  # its own redis-server, which it restarts

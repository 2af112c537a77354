# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench install lock clean

# Every install takes the exact versions in constraints.txt (tested together); `make lock`
# resolves the ranges in pyproject.toml afresh and rewrites it.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/scorecard demo

test: lint
	bash tests/setup_system.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint, format and types: part of `make test`, so CI runs them too.
LINTED := pipelines dags tests benchmarks deploy
lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

# The pure-Python part, on SQLite: no PostgreSQL, browser, LibreOffice, Airflow or subprocesses.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not postgres and not browser and not slow" $(PYTEST_ARGS)

# Benchmarks (issue 8): not part of the test suite; writes benchmarks/RESULTS.md. Needs the
# PostgreSQL server on 127.0.0.1:5432 like `make test`; takes one to two hours on 2 cores.
bench: $(STAMP)
	pg_isready -h 127.0.0.1 -p 5432 -q || pg_ctlcluster --skip-systemctl-redirect "$$(ls /etc/postgresql | head -n1)" main start
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# Resolve pyproject.toml's ranges in a fresh virtual environment and pin what was installed.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet '.[test]'
	{ echo "# Exact versions of every package, tested together: make demo, make test, CI and"; \
	  echo "# deploy/Dockerfile install with -c constraints.txt. Made by 'make lock' on Python $$(.lock-venv/bin/python -c 'import platform; print(platform.python_version())')."; \
	  .lock-venv/bin/python -m pip freeze --exclude lscp-scorecard; } > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) var

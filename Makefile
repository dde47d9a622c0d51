# The README's commands. Everything a fresh machine with Python, pip and Node needs is installed
# here: uv (from pip, when missing), the locked Python packages, and the locked CDK CLI (npm).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
UV := $(PYTHON) -m uv
# The interpreter of the project's environment (.venv): the distribution's python3 when it is a
# version the local stack runs on (3.11 or 3.12, which pgserver has wheels for) with its whole
# standard library (a distribution's minimal package has no asyncio or sqlite3). Distributions
# build it with profile-guided and link-time optimisation, as the worker image's is built; an
# interpreter compiled without them (pyenv's default build) ran a worker's imports a fifth slower
# here (601 ms against 487) and pure Python 1.5 to 1.7 times slower. VENV_PYTHON=<path> picks
# another; empty leaves the choice to uv (the first python3 on the PATH). Probed once, here: a
# recursively expanded variable would run the probe at each of its uses.
ifeq ($(origin VENV_PYTHON),undefined)
VENV_PYTHON := $(shell /usr/bin/python3 -c 'import asyncio, ctypes, json, sqlite3, ssl, sys; print(sys.executable if (3, 11) <= sys.version_info[:2] <= (3, 12) else "")' 2>/dev/null)
endif
RUN := $(UV) run --frozen
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: help setup uv python-deps node-deps browser lint typecheck test slow unit integration e2e infra bench demo synth deploy clean

help:
	@echo "make demo    run a real workflow end to end on the embedded local stack"
	@echo "make test    lint, type-check and run the whole test suite"
	@echo "make slow    the slow fault and load tests (CI runs them after make test)"
	@echo "make bench   run the benchmarks and write bench-results.json"
	@echo "make synth   synthesise the CDK app (no AWS credentials or Docker needed)"
	@echo "make deploy  cdk deploy to the AWS account in your environment"

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv \
		|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv

# Bytecode compiled where it runs: the locked packages as uv installs them, the project's own
# modules here (a worker, handler or CLI would otherwise compile them on its first start).
python-deps: uv
	$(UV) sync --frozen --quiet --compile-bytecode $(if $(VENV_PYTHON),--python $(VENV_PYTHON))
	@$(UV) run --frozen python -m compileall -q -j 0 layers functions

node-deps:
	@if [ -f package-lock.json ]; then \
		if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then \
			npm ci --no-audit --no-fund --loglevel=error && touch node_modules; \
		fi; \
	fi

setup: python-deps node-deps

# The browser test of the local Slack page drives a real headless Chromium with its driver.
# Both come from the distribution's packages (test frameworks' own browser downloads are not
# used); as root with apt-get they are installed when missing, elsewhere the test says why it
# is skipped.
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-color-emoji
browser:
	@if command -v chromedriver >/dev/null 2>&1 \
		&& { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Chromium and its driver from the distribution (for the browser test)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; } \
			|| echo "could not install Chromium: the browser test will be skipped"; \
	else \
		echo "no Chromium and no apt-get as root: the browser test will be skipped"; \
	fi

lint: python-deps
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: python-deps
	$(RUN) mypy $(wildcard layers functions infra tests)

test: setup browser lint typecheck
	$(RUN) pytest

# Fault and load tests too slow for the default run (marked @pytest.mark.slow); CI runs them too.
slow: setup
	$(RUN) pytest -m slow

unit: python-deps
	$(RUN) pytest tests/unit

integration: python-deps
	$(RUN) pytest tests/integration

e2e: setup
	$(RUN) pytest tests/e2e

infra: setup
	$(RUN) pytest tests/infra

bench: setup
	AUTODEV_BENCH_FULL=1 $(RUN) pytest tests/bench -s -q

demo: setup
	$(RUN) autodev demo
	@# No process outlives the demo: its embedded Postgres stopped with it (unless the
	@# background stack of `autodev local up` holds it).
	@$(RUN) python -m autodev.local.leftovers
	@echo "The autodev command is in .venv: \`source .venv/bin/activate\` puts it on your PATH."

synth: setup
	npx --no-install cdk synth --quiet

deploy: setup
	npx --no-install cdk deploy --all

clean:
	-$(RUN) autodev local down
	rm -rf .autodev cdk.out .pytest_cache .mypy_cache .ruff_cache bench-results.json

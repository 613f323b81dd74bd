# `make demo` and `make test` work on a fresh machine: they install what they need first.
SHELL := /bin/bash
UV_VERSION := 0.13.8
VENV := .venv
PY := $(VENV)/bin/python
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
# TensorFlow flavour: cpu everywhere by default; `make install TF=gpu` on GPU servers.
TF ?= cpu

.PHONY: install deps demo test lint clean hub images

$(UV):
	python3 -m pip install --quiet --user "uv==$(UV_VERSION)"

deps:
	bash scripts/install-system-deps.sh

# Debian's Python 3.11 (deps installs it), as in the images: every user may run it (a local hub
# started as root runs each formgrader as its course folder's user; a Python under /root is
# root's alone). Without it, the first Python 3.11 that uv finds. No .pyc: sandboxes cannot
# write them.
$(VENV)/.installed-$(TF): pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --locked --extra $(TF) --compile-bytecode \
	    $$(test -x /usr/bin/python3.11 && echo --python /usr/bin/python3.11)
	rm -f $(VENV)/.installed-*
	touch $@

install: deps $(VENV)/.installed-$(TF)

# configurable-http-proxy for JupyterHub, from npm into a git-ignored folder
CHP := deploy/node/node_modules/.bin/configurable-http-proxy
$(CHP): deploy/node/package-lock.json
	npm ci --prefix deploy/node --no-audit --no-fund --loglevel=error

demo: install
	$(VENV)/bin/course demo --dir demo-course --force

hub: install $(CHP)
	$(VENV)/bin/course hub --dir hub-course

# the deployment's images from Debian packages (deploy/README.md): `make images TF=gpu` on GPU servers
images: deps $(CHP) | $(UV)
	bash deploy/build-images.sh $(TF)

test: install $(CHP)
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff, and the layers of ARCHITECTURE.md (import-linter: no arrow up, no import circle)
lint: install
	$(UV) run --locked ruff check course autograder exchange hub_config dashboard commands devhub tests benchmarks
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) demo-course .pytest_cache

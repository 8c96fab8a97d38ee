# textpipe: set-up, tests, and a worked example of chaining the stage commands with make.
#
#   make run     create .venv, install textpipe, run the imdb-lstm preset
#   make test    create .venv, install the dev extras, run the tests
#   make -j2 imdb   the IMDB comparison (mlp, lstm, bilstm) chained stage by stage below

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The IMDB mirror, when this checkout sits beside ../shared (no network needed then).
MIRROR := $(abspath ../shared/datasets)
ifneq ($(wildcard $(MIRROR)),)
export TEXTPIPE_MIRROR ?= $(MIRROR)
endif

.PHONY: run test lint install install-dev clean-imdb FORCE

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@$(BIN)/python -m pip install --quiet -e '.[torch-cpu]' || \
		echo "*** torch's CPU wheel not found: the torch test pass will be skipped (see pyproject.toml, torch-cpu)"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(BIN)/textpipe run imdb-lstm

# The default suite skips the slow tests (pyproject's addopts): `$(BIN)/python -m pytest -m slow`
# runs them (the Makefile chain, the long fault injection); -m faults and -m mirror select those.
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest
	@if $(BIN)/python -c "import jax" 2>/dev/null; then \
		echo "--- model zoo contract on the jax backend"; \
		KERAS_BACKEND=jax $(BIN)/python -m pytest tests/models -q -p no:cacheprovider; \
	fi
	@if $(BIN)/python -c "import torch" 2>/dev/null; then \
		echo "--- model zoo contract on the torch backend"; \
		KERAS_BACKEND=torch $(BIN)/python -m pytest tests/models -q -p no:cacheprovider; \
	fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# ---------------------------------------------------------------------------------------------
# Worked example: the stages chained through explicit artifact paths.
#
# make decides by timestamps, textpipe by keys. Each stage's options live in a small file under
# $(B)/.params that is rewritten only when its content changes, so editing one parameter below
# remakes that stage and the ones after it, not the ones before. When make does re-run a stage
# whose key textpipe has already built (say, after changing a parameter back), textpipe copies
# the artifact from its cache instead of recomputing. The .stamps files are make's own record
# that a target is up to date; the artifacts' files keep their timestamps.
# ---------------------------------------------------------------------------------------------
TEXTPIPE ?= $(BIN)/textpipe
DATASET ?= stanfordnlp/imdb
B ?= build/imdb
MODELS ?= mlp lstm bilstm

download_ARGS ?= --validation-size 0.1 --seed 0
normalize_ARGS ?= --strip-html
vocab_ARGS ?= --size 20000
encode_ARGS ?= --length 256 --padding post
train_ARGS ?= --epochs 3 --batch-size 64 --learning-rate 0.001 --early-stopping 1
evaluate_ARGS ?= --split test

S := $(B)/.stamps
P := $(B)/.params

imdb: $(B)/report.md
	@cat $<

$(P)/%: FORCE
	@mkdir -p $(@D)
	@echo '$(DATASET) $($*_ARGS)' | cmp -s - $@ || echo '$(DATASET) $($*_ARGS)' > $@

$(S)/download: $(P)/download
	$(TEXTPIPE) download $(DATASET) $(download_ARGS) -o $(B)/download
	@mkdir -p $(@D) && touch $@

$(S)/normalize: $(S)/download $(P)/normalize
	$(TEXTPIPE) normalize $(B)/download $(normalize_ARGS) -o $(B)/normalized
	@touch $@

$(S)/vocab: $(S)/normalize $(P)/vocab
	$(TEXTPIPE) vocab $(B)/normalized $(vocab_ARGS) -o $(B)/vocab
	@touch $@

$(S)/encode: $(S)/normalize $(S)/vocab $(P)/encode
	$(TEXTPIPE) encode $(B)/normalized --vocab $(B)/vocab $(encode_ARGS) -o $(B)/encoded
	@touch $@

$(S)/train-%: $(S)/encode $(P)/train
	$(TEXTPIPE) train $(B)/encoded --model $* $(train_ARGS) -o $(B)/$*/model
	@touch $@

$(S)/evaluate-%: $(S)/train-% $(S)/encode $(P)/evaluate
	$(TEXTPIPE) evaluate $(B)/$*/model $(B)/encoded $(evaluate_ARGS) -o $(B)/$*/evaluation
	@touch $@

$(B)/report.md: $(foreach model,$(MODELS),$(S)/evaluate-$(model))
	$(TEXTPIPE) report $(foreach model,$(MODELS),$(B)/$(model)/evaluation) --format markdown > $@.tmp
	@mv $@.tmp $@

clean-imdb:
	rm -rf $(B)

.SECONDARY:

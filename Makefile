# viewrank: `make main` installs everything and runs the main job; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data
SCIFACT := $(DATA)/scifact
INDEX := indexes/scifact
RUNS := runs/scifact
MVP_MODEL := models/mvp-minilm
# The main job compares BM25 with the zero-shot MiniLM bi-encoder, alone and interpolated with
# BM25 (weight 0.4, picked on SciFact train by bench/fusion.py), and with the trained MVP model
# when it is there (`make train-mvp` builds it).
RERANKERS ?= none bi-encoder fuse:0.4:bi-encoder $(if $(wildcard $(MVP_MODEL)/viewrank_mvp.json),mvp:$(MVP_MODEL))
DEPTH ?= 100
RERANK_DEPTH ?= 100
STAMP := $(VENV)/.viewrank-installed

.PHONY: install main test test-fast train-mvp train-mvp-gpu lint-imports

$(STAMP): pyproject.toml setup.py
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[all]"
	@touch $(STAMP)

install: $(STAMP)

main: install
	@test -f $(SCIFACT)/corpus.jsonl || { echo "SciFact not found at $(SCIFACT): set DATA=/path/to/shared/data" >&2; exit 2; }
	@test -d $(INDEX) || $(BIN)/viewrank index --dataset $(SCIFACT) --index $(INDEX)
	$(BIN)/viewrank rerank --index $(INDEX) --dataset $(SCIFACT) --split test --hits $(DEPTH) \
		--rerank-depth $(RERANK_DEPTH) $(foreach r,$(RERANKERS),--reranker $(r)) --output-dir $(RUNS)

train-mvp: install
	@test -d $(INDEX) || $(BIN)/viewrank index --dataset $(SCIFACT) --index $(INDEX)
	$(BIN)/viewrank train mvp --dataset $(SCIFACT) --split train --index $(INDEX) --output $(MVP_MODEL)

# The recipe that beats the cross-encoder (docs/mvp.md): lists of 16 at 256 tokens, 6 epochs, on a CUDA GPU.
train-mvp-gpu: install
	@test -d $(INDEX) || $(BIN)/viewrank index --dataset $(SCIFACT) --index $(INDEX)
	$(BIN)/viewrank train mvp --dataset $(SCIFACT) --split train --index $(INDEX) --output $(MVP_MODEL) \
	    --device cuda --list-size 16 --max-length 256 --epochs 6

test: install
	$(BIN)/python -m pytest

# The edit loop: everything but the slow and OpenSearch tests.
test-fast: install
	$(BIN)/python -m pytest -m "not slow and not opensearch"

# The layering contracts of pyproject.toml (also run by make test: tests/core/test_layering.py).
lint-imports: install
	$(BIN)/python tools/lint_imports.py

# The README's commands. Each target creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_OFFLINE := --record-mode=none --block-network --allowed-hosts=127.0.0.1,localhost,::1

.PHONY: demo test lint cassettes cassettes-gradio bench fuzz docs clean space

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,server,llama-index]"
	@[ -x /usr/bin/chromium ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	touch $(STAMP)

## demo: four LocalSpaces, one per tier; Test Connection and generation on each
demo: $(STAMP)
	$(BIN)/python docs/examples/demo.py

## test: lint, type-check, then the whole suite with cassettes replayed and the network blocked
test: lint
	$(BIN)/python -m pytest $(PYTEST_OFFLINE) -q

## lint: ruff (lint + format check) and mypy (strict on the packages)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy langchain_hf_spaces llama_index_hf_spaces

## cassettes: re-record every cassette from real local servers (LocalSpace, the dev gradio)
cassettes: $(STAMP)
	$(BIN)/python -m pytest -m "vcr and not gradio_versions" --record-mode=rewrite -q

## cassettes-gradio: re-record tests/gradio_versions from real Gradio 3.50/4.44/5.x/6.x servers
## (one server venv per version under .gradio-venvs/, built once with the era's pins)
cassettes-gradio: $(STAMP)
	$(BIN)/python tests/support/record_gradio.py $(VERSIONS)

## fuzz: the property tests with 2,000+ examples each (make test runs fewer)
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest $(PYTEST_OFFLINE) -q tests/test_fuzz.py tests/test_schema.py tests/test_structured.py -k "not vcr"

## bench: benchmarks against raw httpx and the peers (not part of `make test`)
bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/run.py --write docs/benchmarks.md

## docs: build the documentation site into site/
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache site

## space: the Space template (docs/space-template) locally, demo backend, http://127.0.0.1:7860
space: $(STAMP)
	cd docs/space-template && BACKEND=demo HOST=127.0.0.1 PORT=$${PORT:-7860} $(abspath $(BIN))/python app.py

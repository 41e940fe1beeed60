# The set-up and everyday commands. `make demo` and `make test` each create
# .venv when missing, install torch (CPU build) first, then the package.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: demo test lint bench clean install docs

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q $(TORCH)

$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m pyg_identity.cli demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check pyg_identity tests benchmarks examples docs/source
	$(PY) -m mypy

# The API reference (docs/source) as HTML in docs/_build/html; every Sphinx
# warning is an error.
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(PIP) install -q -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs/source docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info docs/_build

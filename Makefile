# Two set-up commands for a fresh machine (only Python 3.11 and pip): `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.deps-stamp

.PHONY: run test install bench fuzz clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Dependencies are installed once per change of pyproject.toml; the package itself is always
# reinstalled as a real (non-editable) wheel so tests exercise what users get.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet ".[test]"
	touch $(STAMP)

install: $(STAMP)
	$(PY) -m pip install --quiet --no-deps --force-reinstall .

run: install
	CPI_LINK_HOME=$${CPI_LINK_HOME:-$(CURDIR)/demo-home} $(VENV)/bin/cpi-link run \
	  --scheme national --roster data/sample/roster.csv --standards data/sample/standards.csv --offline --since 2019-09

test: install
	cd tests && ../$(VENV)/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

fuzz: install
	cd tests && FUZZ_SECONDS=$${FUZZ_SECONDS:-120} ../$(VENV)/bin/python -m pytest -p no:cacheprovider -q test_fuzz.py

clean:
	rm -rf $(VENV) build dist demo-home

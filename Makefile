# Two set-up commands for a fresh machine (only Python 3.11 and pip): `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.deps-stamp

.PHONY: run test install bench fuzz clean messages

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

# The monthly job on bundled data: national figures (bundled, offline), the synthetic sample roster
# and the SAMPLE standards. Run it twice: the second time every month is already_done.
DEMO_HOME ?= $(CURDIR)/demo-home
run: install
	@echo "== bundled figures (national, 2019-09..2020-02) =="
	CPI_LINK_HOME=$(DEMO_HOME) $(VENV)/bin/cpi-link series --region 000000 --since 2019-09 --until 2020-02
	@echo "== the monthly job, index months 2019-09 onward =="
	CPI_LINK_HOME=$(DEMO_HOME) $(VENV)/bin/cpi-link run --scheme national --offline --since 2019-09 \
	  --roster data/sample/roster.csv --standards data/sample/standards.csv
	@echo "Outputs: run folders under $(DEMO_HOME)/runs (Parquet + manifest.json); the ledger in $(DEMO_HOME)/ledger"

test: install
	cd tests && ../$(VENV)/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# After adding or changing a `_()` message: refresh the .pot/.po catalogs, then translate the new
# entries in cpi_link/locale/zh_CN/LC_MESSAGES/*.po (the wheel build compiles them to .mo).
messages: install
	$(PY) scripts/i18n_catalog.py update
	$(PY) scripts/i18n_catalog.py check || true

bench: install
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

fuzz: install
	cd tests && FUZZ_SECONDS=$${FUZZ_SECONDS:-120} ../$(VENV)/bin/python -m pytest -p no:cacheprovider -q -s test_fuzz.py

clean:
	rm -rf $(VENV) build dist demo-home

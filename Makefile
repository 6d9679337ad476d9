# Two set-up commands for a fresh machine (only Python 3.11 and pip): `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.deps-stamp

.PHONY: run test install bench bench-workbook print-check fuzz clean

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

bench: install
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

# The workbook through LibreOffice to PDF: page count, one page wide, header on every page, 合计
# with the signatures (needs soffice and poppler-utils: apt-get install -y libreoffice-calc poppler-utils).
print-check: install
	@command -v soffice >/dev/null && command -v pdftotext >/dev/null || \
	  { echo "installing LibreOffice Calc and poppler-utils with apt-get (a few minutes)"; \
	    apt-get install -y --no-install-recommends libreoffice-calc poppler-utils fonts-noto-cjk; }
	$(PY) tests/print_check.py $(PRINT_ARGS)

# The workbook for 200k paid rows against a plain xlsxwriter constant-memory write of the same cells.
bench-workbook: install
	$(PY) benchmarks/bench_workbook.py $(BENCH_ARGS)

fuzz: install
	cd tests && FUZZ_SECONDS=$${FUZZ_SECONDS:-120} ../$(VENV)/bin/python -m pytest -p no:cacheprovider -q -s test_fuzz.py

clean:
	rm -rf $(VENV) build dist demo-home

# Two set-up commands for a fresh machine (only Python 3.11 and pip): `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.deps-stamp

.PHONY: run test install bench bench-analyst bench-workbook bench-serve bench-witness print-check fuzz clean messages

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

# First Shanxi's own bundled months (decided under the shipped shanxi scheme: which can be decided,
# and why the others stop), then the monthly job on the bundled NATIONAL figures, the synthetic
# sample roster and the SAMPLE standards. Run it twice: the second time every month is already_done.
DEMO_HOME ?= $(CURDIR)/demo-home
run: install
	@echo "== 1. Shanxi (140000): its bundled months under the shanxi scheme =="
	@echo "   (Shanxi's bundled figures are sparse press reprints: a month is decided only when both its CPI"
	@echo "    and food figures are bundled; the others stop, naming the missing figure)"
	-CPI_LINK_HOME=$(DEMO_HOME) $(VENV)/bin/cpi-link trigger --scheme shanxi --since 2016-07 --until 2023-02 --stored-months
	@echo "== 2. The monthly job runs on the NATIONAL figures (complete 2015-2025), scheme national =="
	@echo "== bundled figures (national, 2019-09..2020-02) =="
	CPI_LINK_HOME=$(DEMO_HOME) $(VENV)/bin/cpi-link series --region 000000 --since 2019-09 --until 2020-02
	@echo "== the monthly job, index months 2019-09 onward =="
	CPI_LINK_HOME=$(DEMO_HOME) $(VENV)/bin/cpi-link run --scheme national --offline --since 2019-09 \
	  --roster data/sample/roster.csv --standards data/sample/standards.csv
	@echo "Outputs: run folders under $(DEMO_HOME)/runs (Parquet + manifest.json); the ledger in $(DEMO_HOME)/ledger"
	@echo "Shanxi's months above are decided, not paid: import the official Shanxi figures (cpi-link fetch template,"
	@echo "then cpi-link fetch --source file) to run Shanxi's monthly job."

# The page's browser tests (tests/web) drive Debian's chromium through Playwright, never a
# downloaded browser: installed here when missing, as print-check installs LibreOffice (about 40 s).
test: install
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium for the page's browser tests (apt-get)"; \
	  apt-get install -y --no-install-recommends chromium || \
	  { apt-get update -qq && apt-get install -y --no-install-recommends chromium; }; }
	cd tests && ../$(VENV)/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# After adding or changing a `_()` message: refresh the .pot/.po catalogs, then translate the new
# entries in cpi_link/locale/zh_CN/LC_MESSAGES/*.po (the wheel build compiles them to .mo).
messages: install
	$(PY) scripts/i18n_catalog.py update
	$(PY) scripts/i18n_catalog.py check || true

bench: install
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

# The workbook through LibreOffice to PDF: page count, one page wide, header on every page, 合计
# with the signatures (needs soffice and poppler-utils: apt-get install -y libreoffice-calc poppler-utils).
print-check: install
	@command -v soffice >/dev/null && command -v pdftotext >/dev/null && fc-match Calibri | grep -q Carlito || \
	  { echo "installing LibreOffice Calc, poppler-utils and fonts (Carlito: Calibri's widths) with apt-get (a few minutes)"; \
	    apt-get install -y --no-install-recommends libreoffice-calc poppler-utils fonts-noto-cjk fonts-crosextra-carlito; }
	$(PY) tests/print_check.py $(PRINT_ARGS)

# The workbook for 200k paid rows against a plain xlsxwriter constant-memory write of the same cells.
bench-analyst: install
	$(PY) -m pip install --quiet duckdb  # bench-only: the same queries in DuckDB
	$(PY) benchmarks/bench_analyst.py $(BENCH_ARGS)

bench-workbook: install
	$(PY) benchmarks/bench_workbook.py $(BENCH_ARGS)

# `cpi-link serve`: from the process start to the first page answered, median of 7 starts.
bench-serve: install
	$(PY) benchmarks/bench_serve.py $(BENCH_ARGS)

# What the two witnesses of every payment cost each run: 18 paid months of a 1M-row roster.
bench-witness: install
	$(PY) benchmarks/bench_witness.py $(BENCH_ARGS)

fuzz: install
	cd tests && FUZZ_SECONDS=$${FUZZ_SECONDS:-120} ../$(VENV)/bin/python -m pytest -p no:cacheprovider -q -s calc/test_fuzz.py

clean:
	rm -rf $(VENV) build dist demo-home

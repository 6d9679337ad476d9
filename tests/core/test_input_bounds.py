"""Issue 28: every input is a regular file within a byte cap; spreadsheet bombs refused before
they expand.

A FIFO would block the open for ever and /dev/zero never ends: both are exit 2 "not a regular
file" at once, for the roster, standards, figures, counts and scheme files. The caps come from
CONFIG/limits.toml and the message names the key and its default. A 1 KB ODS of repeated rows and
cells, and a small XLSX with a cell at XFD1048576, are refused with the peak memory of a real
`cpi-link` process measured.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import REPO

ENV_KEYS = ("PATH", "LANG", "HOME", "TMPDIR")


def _run(args, home, timeout=120):
    env = {k: os.environ[k] for k in ENV_KEYS if k in os.environ}
    env.update(CPI_LINK_HOME=str(home), CPI_LINK_LANG="en", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "cpi_link", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _roster(tmp_path):
    from calc_helpers import make_id

    p = tmp_path / "r.csv"
    p.write_text(f"身份证号,姓名,类别,地区代码,城乡\n{make_id('140105', '19600101', '001')},甲,urban_dibao,140105,urban\n",
                 encoding="utf-8")
    return p


def _commands(tmp_path, bad):
    roster, std = _roster(tmp_path), REPO / "data/sample/standards.csv"
    return {
        "roster": ["validate", "--roster", bad],
        "calc roster": ["calc", "--month", "2024-01", "--roster", bad, "--standards", std, "--out", tmp_path / "o1"],
        "standards": ["calc", "--month", "2024-01", "--roster", roster, "--standards", bad, "--out", tmp_path / "o2"],
        "figures": ["fetch", "--source", "file", "--file", bad],
        "counts": ["estimate", "--month", "2024-01", "--counts", bad, "--rate", "5"],
        "scheme": ["trigger", "--month", "2024-01", "--scheme", bad],
    }


@pytest.mark.parametrize("which", ["roster", "calc roster", "standards", "figures", "counts", "scheme"])
def test_a_fifo_is_refused_at_once(tmp_path, which):
    fifo = tmp_path / ("pipe.toml" if which == "scheme" else "pipe.csv")
    os.mkfifo(fifo)
    r = _run(_commands(tmp_path, fifo)[which], tmp_path / "home", timeout=60)  # a hang fails here
    assert r.returncode == 2, r.stderr
    assert f"{fifo.name}: not a regular file" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


@pytest.mark.parametrize("which", ["roster", "standards", "figures", "counts"])
def test_dev_zero_is_refused(tmp_path, cli, which):
    r = cli(*_commands(tmp_path, "/dev/zero")[which])
    assert r.exit_code == 2, r.output
    assert "/dev/zero: not a regular file" in r.stderr


def test_a_folder_is_refused(tmp_path, cli):
    r = cli(*_commands(tmp_path, tmp_path)["standards"])
    assert r.exit_code == 2 and "is a folder, not a file" in r.stderr


def test_byte_cap_from_config_names_key_and_default(tmp_path, cli):
    cfg = tmp_path / "cfg"
    shutil.copytree(REPO / "config", cfg)
    (cfg / "limits.toml").write_text("[input]\ntable_max_bytes = 100\n", encoding="utf-8")
    std = REPO / "data/sample/standards.csv"
    r = cli("--config", cfg, *_commands(tmp_path, std)["standards"])
    assert r.exit_code == 2, r.output
    msg = " ".join(r.stderr.split())
    assert f"standards.csv: {std.stat().st_size:,} bytes, beyond the cap of 100 bytes" in msg
    assert "[input] table_max_bytes" in msg and "the default is 67,108,864" in msg
    # the same file under the default cap is read
    assert "beyond the cap" not in cli(*_commands(tmp_path, std)["standards"]).stderr


def test_bad_limits_file_is_a_config_error(tmp_path, cli):
    cfg = tmp_path / "cfg"
    shutil.copytree(REPO / "config", cfg)
    (cfg / "limits.toml").write_text("[input]\ntable_max_byte = 100\n", encoding="utf-8")
    r = cli("--config", cfg, "series")
    assert r.exit_code != 0 and "table_max_byte: unknown key" in r.stderr


def test_read_input_stops_at_the_cap(tmp_path, monkeypatch):
    # /proc files say size 0: the read itself is bounded
    from cpi_link.core import inputs
    from cpi_link.core.errors import InputError

    monkeypatch.setitem(inputs._caps, "table", 10)
    p = tmp_path / "f.csv"
    p.write_text("x" * 5)
    assert inputs.read_input(p) == b"xxxxx"
    with pytest.raises(InputError, match="more than 10 bytes"):
        inputs.read_input("/proc/self/status")


# --------------------------------------------------------------------------------------------
# Bombs: the peak memory of a real process


def _peak_mb(args, home) -> tuple[int, str]:
    """(peak resident MB of `cpi-link ARGS`, its stderr), measured by a parent of its own so
    that no other child of the test process counts."""
    code = ("import resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "sys.stderr.write(p.stderr)\n"
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n")
    env = {k: os.environ[k] for k in ENV_KEYS if k in os.environ}
    env.update(CPI_LINK_HOME=str(home), CPI_LINK_LANG="en", NO_COLOR="1")
    r = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "cpi_link", *map(str, args)],
                       capture_output=True, text=True, timeout=600, env=env)
    rc, mb = map(int, r.stdout.split())
    assert rc == 2, r.stderr
    return mb, r.stderr


def _ods_bomb(path, rows, cols):
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')
    head = "".join(f'<table:table-cell office:value-type="string"><text:p>{h}</text:p></table:table-cell>'
                   for h in ("身份证号", "姓名", "类别", "地区代码"))
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2"><office:body>'
               f'<office:spreadsheet><table:table table:name="S"><table:table-row>{head}</table:table-row>'
               f'<table:table-row table:number-rows-repeated="{rows}"><table:table-cell table:number-columns-repeated="{cols}" '
               'office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row></table:table>'
               '</office:spreadsheet></office:body></office:document-content>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                   '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" '
                   'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>')
    return path


@pytest.mark.slow
def test_ods_bomb_refused_before_it_expands(tmp_path):
    # 70,000 rows x 1,000 repeated cells: 70 million cells, which calamine would hold at ~36 bytes each
    path = _ods_bomb(tmp_path / "bomb.ods", 70_000, 1_000)
    assert path.stat().st_size < 2048
    mb, err = _peak_mb(["validate", "--roster", path], tmp_path / "home")
    assert "70,001,000 cells, beyond the cap of 60,000,000" in " ".join(err.split())
    assert mb < 500, f"peak {mb} MB"


@pytest.mark.slow
def test_xlsx_far_cell_refused_before_it_expands(tmp_path):
    import xlsxwriter

    path = tmp_path / "far.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["身份证号", "姓名", "类别", "地区代码"])
    ws.write(1048575, 16383, "x")
    wb.close()
    mb, err = _peak_mb(["validate", "--roster", path], tmp_path / "home")
    assert "row 1,048,576 and column 16,384" in err
    assert mb < 500, f"peak {mb} MB"

"""Issue 31: every XLSX the tool writes opens in WPS as in Excel. Each file (the workbook, the
bank file from the xlsx template, the 公示 list, the officer's blank forms) is unzipped and read
byte by byte: no ZIP64 record, no formula without its cached value. No LibreOffice needed (the
PDF render is `make print-check`)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from test_report import make_run
from xlsx_structure import problems, shared_or_inline


def _written(cli, home, tmp_path) -> dict[str, Path]:
    run = make_run(cli, home, tmp_path)
    files = {"workbook": tmp_path / "w.xlsx", "bank": tmp_path / "bank.xlsx", "public": tmp_path / "gongshi.xlsx",
             "masked workbook": tmp_path / "masked.xlsx", "figures form": tmp_path / "figures.xlsx"}
    r = cli("report", run, "--xlsx", files["workbook"], "--bank", "generic-xlsx", "--bank-out", files["bank"],
            "--public", files["public"])
    assert r.exit_code == 0, r.stderr
    assert cli("report", run, "--xlsx", files["masked workbook"], "--mask-ids").exit_code == 0
    r = cli("fetch", "template", "--region", "140000", "--since", "2024-01", "--until", "2024-03", "--out", files["figures form"])
    assert r.exit_code == 0, r.stderr
    for form in ("roster", "standards"):
        files[f"{form} form"] = tmp_path / f"{form}.xlsx"
        assert cli("template", form, "--out", files[f"{form} form"]).exit_code == 0
    return files


def test_every_xlsx_written_has_no_zip64_and_no_formula_without_value(cli, home, tmp_path):
    files = _written(cli, home, tmp_path)
    for what, f in files.items():
        assert f.is_file(), what
        assert problems(f) == [], what
    assert shared_or_inline(files["workbook"]) == "inline"


def test_the_check_finds_zip64_and_formulas_without_values(tmp_path):
    sheet = ('<worksheet><sheetData><row r="1"><c r="A1"><f>SUM(B1:B2)</f></c>'
             '<c r="B1"><f>1+1</f><v>2</v></c><c r="C1" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>')
    plain = tmp_path / "plain.xlsx"
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    assert problems(plain) == ["xl/worksheets/sheet1.xml A1: formula without a cached value"]
    z64 = tmp_path / "z64.xlsx"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(b"<worksheet/>")
    z64.write_bytes(buf.getvalue())
    found = problems(z64)
    assert any("ZIP64 extra field" in p for p in found), found


@pytest.mark.parametrize("option", ["use_zip64", "strings_to_formulas", "strings_to_urls"])
def test_the_one_xlsx_opener_keeps_wps_options(option):
    from cpi_link.outputs.xlsx import OPTIONS

    assert OPTIONS[option] is False

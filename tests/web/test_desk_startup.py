"""Issue 32: `cpi-link serve` starts light. Until its address is printed the process has imported
none of the heavy libraries (numpy, pandas, pyarrow, matplotlib, openpyxl): the routes import them
when a page first needs them. The time itself is measured by `make bench-serve` (benchmarks/README.md)."""

from __future__ import annotations

import os
import re
import subprocess

from desk_helpers import CPI_LINK

HEAVY = ("numpy", "pandas", "pyarrow", "matplotlib", "openpyxl", "xlsxwriter", "python_calamine")


def test_the_page_starts_without_the_heavy_libraries(home, tmp_path):
    imports = tmp_path / "imports.txt"
    env = {**os.environ, "CPI_LINK_HOME": str(home), "PYTHONPROFILEIMPORTTIME": "1"}  # every import, to stderr
    with imports.open("w") as err:
        proc = subprocess.Popen([CPI_LINK, "serve", "--port", "0", "--no-browser"], env=env, stdout=subprocess.PIPE,
                                stderr=err, text=True)
        try:
            line = proc.stdout.readline()
            assert re.search(r"http://127\.0\.0\.1:\d+/\?token=", line), line
            before = imports.read_text()  # what the process imported before it printed its address
        finally:
            proc.terminate()
            proc.wait(30)
    names = {ln.split("|")[-1].strip().split(".")[0] for ln in before.splitlines() if ln.startswith("import time:")}
    assert "flask" in names and "waitress" in names  # the profile is the serving process's
    assert not names & set(HEAVY), sorted(names & set(HEAVY))


def test_a_bad_upload_cap_is_exit_2_naming_its_file_or_variable_in_the_readers_language(cli, tmp_path):
    """Issue 34: [web] upload_max_mb in CONFIG/sources.toml, and CPI_LINK_WEB_UPLOAD_MAX_MB over it, refused before
    the page starts, in Chinese in a Chinese run, naming where the value came from."""
    from cpi_link.core.paths import bundled_config_dir

    cfg = tmp_path / "cfg"
    cfg.mkdir()
    text = (bundled_config_dir() / "sources.toml").read_text("utf-8")
    assert "upload_max_mb = 200" in text
    (cfg / "sources.toml").write_text(text.replace("upload_max_mb = 200", "upload_max_mb = 1.5"), "utf-8")
    path = cfg / "sources.toml"
    squash = lambda s: "".join(s.split())  # noqa: E731 (a long path may wrap the line)
    r = cli("--lang", "zh", "--config", cfg, "serve", "--port", "0", "--no-browser")
    assert r.exit_code == 2 and squash(f"{path} 中 [web] 的 upload_max_mb = 1.5：请给出 1 到 4096 之间的整数兆字节数") in squash(r.stderr), r.output
    r = cli("--lang", "en", "--config", cfg, "serve", "--port", "0", "--no-browser")
    assert r.exit_code == 2 and squash(f"[web] upload_max_mb in {path} = 1.5: give a whole number of megabytes from 1 to 4096") in squash(r.stderr), r.output
    cli.env["CPI_LINK_WEB_UPLOAD_MAX_MB"] = "5000"
    r = cli("--lang", "zh", "--config", cfg, "serve", "--port", "0", "--no-browser")
    assert r.exit_code == 2 and squash("环境变量 CPI_LINK_WEB_UPLOAD_MAX_MB = '5000'：请给出") in squash(r.stderr), r.output

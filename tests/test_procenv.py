"""procenv: the CLI's allocator/thread settings respect what the user set and never fail."""

import os

from cpi_link import procenv


def test_tune_sets_defaults_once_and_keeps_user_values(monkeypatch):
    monkeypatch.setattr(procenv, "_done", False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")  # the user's choice stays
    monkeypatch.delenv("MIMALLOC_ALLOW_THP", raising=False)
    procenv.tune()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
    assert os.environ["MIMALLOC_ALLOW_THP"] == "0"
    monkeypatch.setenv("MIMALLOC_ALLOW_THP", "1")
    procenv.tune()  # a second call changes nothing
    assert os.environ["MIMALLOC_ALLOW_THP"] == "1"


def test_the_command_line_leaves_with_its_output_and_exit_status(tmp_path):
    """cli.main ends with os._exit (no interpreter teardown): stdout and stderr still arrive whole,
    and the exit status is the command's."""
    import subprocess
    import sys

    env = dict(os.environ, CPI_LINK_HOME=str(tmp_path / "home"))
    ok = subprocess.run([sys.executable, "-m", "cpi_link", "--version"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and ok.stdout.startswith("cpi-link ")
    bad = subprocess.run([sys.executable, "-m", "cpi_link", "calc", "--month", "2019-13", "--roster", "nowhere.csv"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "2019-13" in bad.stderr

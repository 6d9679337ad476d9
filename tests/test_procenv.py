"""procenv: the CLI's allocator/thread settings respect what the user set and never fail."""

import os

from cpi_link import procenv


def test_tune_sets_defaults_once_and_keeps_user_values(monkeypatch):
    monkeypatch.setattr(procenv, "_done", False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")  # the user's choice stays
    monkeypatch.delenv("MIMALLOC_PURGE_DELAY", raising=False)
    procenv.tune()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "-1"
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "5")
    procenv.tune()  # a second call changes nothing
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "5"

"""The page's roster checks kept under home, so a restart of `cpi-link serve` pays what was checked
without checking again: HOME/web/checks/<month>.json (0600), keyed by the roster's sha256 and the
inputs (sheet, standards, scheme). The payment re-verifies the roster's hash under the run lock
(jobs.monthly.pay_month's expect_sha256): a file changed since is refused, nothing paid."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from cpi_link.core.atomic import read_nofollow, write_text
from cpi_link.core.paths import Home, private_dir

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def check_key(month: str, roster_sha256: str, sheet: str | None, standards_sha256: str | None, scheme: str) -> str:
    """What a check is of: the month, the roster's bytes, its sheet, the standards' bytes, the scheme."""
    parts = [month, roster_sha256, sheet or "", standards_sha256 or "sample", scheme]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _path(home: Home, month: str) -> Path:
    if not _MONTH.fullmatch(month):
        raise ValueError(month)
    return home.root / "web" / "checks" / f"{month}.json"


def save(home: Home, rec: dict) -> None:
    rec = dict(rec, key=check_key(rec["month"], rec["roster_sha256"], rec.get("sheet"), rec.get("standards_sha256"),
                                  rec["scheme"]))
    private_dir(home.root / "web" / "checks")
    write_text(_path(home, rec["month"]), json.dumps(rec, ensure_ascii=False, default=str))


def load(home: Home, month: str) -> dict | None:
    """The month's last check as saved, or None: absent, unreadable, its key not its inputs', or its
    files (the roster's, one or several) no longer under home (the officer checks again)."""
    try:
        rec = json.loads(read_nofollow(_path(home, month)))
        key = check_key(rec["month"], rec["roster_sha256"], rec.get("sheet"), rec.get("standards_sha256"), rec["scheme"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if rec.get("month") != month or rec.get("key") != key:
        return None
    if not isinstance(rec.get("roster"), list) or not rec["roster"]:
        return None
    root = home.root.resolve()
    files = [*rec["roster"], rec.get("standards"), rec.get("run_dir")]
    if not all(p is None or (isinstance(p, str) and Path(p).resolve().is_relative_to(root)) for p in files):
        return None
    if not all(Path(p).is_file() for p in rec["roster"]) or not Path(rec["run_dir"]).is_dir():
        return None
    return rec

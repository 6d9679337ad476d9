"""Where things live: the home directory (state), the config directory and the bundled data."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # cpi_link/


def _bundled(name: str) -> Path:
    # Installed wheel: cpi_link/_bundled/<name>. Source checkout / editable: <repo>/<name>.
    inside = PACKAGE_DIR / "_bundled" / name
    if inside.is_dir():
        return inside
    return PACKAGE_DIR.parent / name


def bundled_config_dir() -> Path:
    return _bundled("config")


def bundled_data_dir() -> Path:
    return _bundled("data")


def default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "cpi-link"


def resolve_home(option: str | Path | None) -> Path:
    if option:
        return Path(option).expanduser()
    env = os.environ.get("CPI_LINK_HOME")
    if env:
        return Path(env).expanduser()
    return default_home()


def resolve_config(option: str | Path | None) -> Path:
    if option:
        return Path(option).expanduser()
    env = os.environ.get("CPI_LINK_CONFIG")
    if env:
        return Path(env).expanduser()
    return bundled_config_dir()


def private_dir(path: Path) -> Path:
    """Create a directory readable only by its owner (0700): it may hold personal data.

    Every level it has to create is 0700 too (mkdir's parents=True would use the umask).
    """
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        os.chmod(d, 0o700)
    os.chmod(path, 0o700)
    return path


class Home:
    """The layout of a home directory (SPEC 3)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def trials_dir(self) -> Path:
        """Trial calcs (calc without --out): never paid, never adopted by run, outside any runs/ glob."""
        return self.root / "trials"

    @property
    def unrecorded_dir(self) -> Path:
        """Run folders the ledger never recorded, moved out of runs/ (and of any runs/*/* glob)."""
        return self.root / "unrecorded"

    @property
    def ledger_dir(self) -> Path:
        return self.root / "ledger"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def ensure(self) -> "Home":
        private_dir(self.root)
        return self


def temp_name(prefix: str, name: str) -> str:
    """A temp folder's name with the writer's pid, so a later start can tell a dead writer's leftovers
    (outputs.runfolder.clean_leftovers)."""
    import os

    return f"{prefix}{name}-p{os.getpid()}"

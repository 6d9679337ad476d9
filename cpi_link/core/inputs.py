"""Input files bounded (SPEC 5.1): every path a reader opens is a regular file, checked before it is
opened (a FIFO would block the open for ever, /dev/zero never ends), and at most a configured
number of bytes.

The caps are CONFIG/limits.toml's [input] table (the CLI reads it once, `configure`); a file past its
cap is exit 2 naming the cap, the key that sets it, and its default.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

from cpi_link.core.errors import ConfigError, InputError
from cpi_link.core.i18n import _

# kind -> (key in [input], default bytes). A 5M-row roster CSV is about 600 MB; figures,
# standards and counts files are kilobytes; schemes, programmes and bank templates a few KB.
DEFAULTS = {
    "roster": ("roster_max_bytes", 4 << 30),
    "table": ("table_max_bytes", 64 << 20),
    "config": ("config_max_bytes", 4 << 20),
}
_caps: dict[str, int] = {}


def configure(config_dir: Path | str | None) -> None:
    """Read the caps from CONFIG/limits.toml (a missing file or key: the default)."""
    _caps.clear()
    if config_dir is None:
        return
    path = Path(config_dir) / "limits.toml"
    try:
        st = os.stat(path)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode) or st.st_size > DEFAULTS["config"][1]:
        raise ConfigError(_("{path}: not a regular file of at most {cap} bytes").format(path=path, cap=f"{DEFAULTS['config'][1]:,}"))
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig")).get("input", {})
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(_("{path}: not valid TOML: {exc}").format(path=path, exc=exc)) from None
    keys = {key: kind for kind, (key, _d) in DEFAULTS.items()}
    for key, value in data.items():
        if key not in keys:
            raise ConfigError(_("{path}: [input] {key}: unknown key; the keys are {keys}").format(
                path=path, key=key, keys=", ".join(keys)))
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(_("{path}: [input] {key}: {value!r} is not a whole number of bytes").format(
                path=path, key=key, value=value))
        _caps[keys[key]] = value


def cap(kind: str) -> int:
    return _caps.get(kind, DEFAULTS[kind][1])


def check_input(path: Path | str, kind: str = "table", what: str | None = None) -> Path:
    """The path, when it is a regular file within its cap; InputError (exit 2) otherwise. Nothing
    is opened: a FIFO, a device or a folder is refused at once."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(_("{path}: no such file").format(path=path)) from None
    except OSError as exc:
        raise InputError(_("{where}: cannot be read ({why})").format(where=path, why=exc.strerror)) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(_("{path}: is a folder, not a file").format(path=path))
    if not stat.S_ISREG(st.st_mode):
        raise InputError(_("{path}: not a regular file (a pipe, a device or a socket); give the path of a saved file").format(path=path))
    if st.st_size > cap(kind):
        key, default = DEFAULTS[kind]
        raise InputError(_("{path}: {size} bytes, beyond the cap of {cap} bytes for this file (set [input] {key} in "
                           "CONFIG/limits.toml; the default is {default})").format(
            path=path, size=f"{st.st_size:,}", cap=f"{cap(kind):,}", key=key, default=f"{default:,}"))
    return path


def read_input(path: Path | str, kind: str = "table") -> bytes:
    """The whole file, checked by check_input; never more than its cap (a file growing while read,
    or one whose size the system does not tell, is refused at the cap)."""
    path = check_input(path, kind)
    limit = cap(kind)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(_("{where}: cannot be read ({why})").format(where=path, why=exc.strerror)) from None
    if len(data) > limit:
        key, default = DEFAULTS[kind]
        raise InputError(_("{path}: more than {cap} bytes, the cap for this file (set [input] {key} in CONFIG/limits.toml; "
                           "the default is {default})").format(path=path, cap=f"{limit:,}", key=key, default=f"{default:,}"))
    return data

"""Process-wide settings for the native libraries under numpy and pyarrow, made once by the
`cpi-link` program (`cli.console`) before either is loaded, and its quick exit. They change speed only, never results
(the measurements: benchmarks/README.md, "Where calc's constants come from").
"""

from __future__ import annotations

import os
import sys

# cpi-link does no BLAS work: OpenBLAS's spinning threads would only take CPU from the pipeline
_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    # pyarrow's mimalloc without transparent huge pages: each first touch of a huge page is zeroed whole
    "MIMALLOC_ALLOW_THP": "0",
}

# glibc malloc: serve numpy's batch arrays from the heap (up to 64 MiB) instead of fresh zeroed mmaps
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOPT = {_M_MMAP_THRESHOLD: 64 << 20, _M_TRIM_THRESHOLD: 256 << 20}

_done = False
# set by cli.console: this process is the command line and ends with its one command; only then may
# a command change what the process can import (tests run commands in-process)
command_line = False


class _NoPandas:
    """An import finder that answers `import pandas` (and its submodules) as if pandas were not installed."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (this cpi-link command runs without pandas)", name=name)
        return None


def without_pandas() -> bool:
    """For the rest of a command-line process that has not imported pandas, make it unimportable
    (True if done). pyarrow imports pandas at its first conversion (0.2 s of a core: a third of
    `estimate`'s time, a sixth of `diff`'s; benchmarks/README.md, issue 34) only to check for pandas
    objects, and skips those checks where pandas is absent. For commands whose path uses no pandas."""
    if not command_line or "pandas" in sys.modules:
        return False
    if _NoPandas not in sys.meta_path:
        sys.meta_path.insert(0, _NoPandas)
    return True


def tune() -> None:
    """Apply the settings once; values the user set in the environment are left as they are."""
    global _done
    if _done:
        return
    _done = True
    for k, v in _ENV.items():
        os.environ.setdefault(k, v)
    if sys.platform.startswith("linux") and not any(k.startswith("MALLOC_") for k in os.environ):
        try:
            import ctypes

            libc = ctypes.CDLL(None)
            for param, value in _MALLOPT.items():
                libc.mallopt(param, value)
        except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to tune
            pass


def leave(code: int) -> None:
    """Exit without the interpreter's teardown, which spent 0.1-0.15 s freeing pandas, pyarrow and
    a calc's buffers: every output was written atomically and closed by then; the standard streams
    and log files are flushed here."""
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)

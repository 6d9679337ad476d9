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

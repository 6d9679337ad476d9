"""Process-wide settings for the native libraries under numpy and pyarrow, made once by the
`cpi-link` program (`cli.console`) before either is loaded, and its quick exit. They change speed only, never results.

Measured with `perf stat` on `calc` over the 5M-row CSV bench roster (5 interleaved runs,
medians): about 1 CPU second less, most of it the kernel zeroing pages that an allocator had
just handed back and then asked for again.
"""

from __future__ import annotations

import os
import sys

# numpy's OpenBLAS starts a thread per core that spins for a while after start-up; cpi-link does
# no BLAS work, so those threads only took CPU from the pipeline (about 1% of calc's samples).
_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    # pyarrow's mimalloc (v3) without transparent huge pages: each first touch of a 2 MiB huge page
    # is zeroed (and, on a VM, backed by the host) whole. 5M-row CSV, 5 interleaved runs: system
    # time 1.99 -> 0.92 s; 50M rows: peak 3045 -> 2892 MiB. (Never returning freed pages, purge
    # delay -1, saved nothing at 5M and raised the 50M peak to 3.7 GB: mimalloc's 1 s default stays.)
    "MIMALLOC_ALLOW_THP": "0",
}

# glibc malloc (numpy's arrays): by default an array above 128 KiB-32 MiB is mmap'ed and unmapped
# when freed, and the heap top is trimmed past 128 KiB, so every batch's arrays fault in fresh
# zeroed pages. Serve arrays up to 64 MiB from the heap and keep up to 256 MiB of it.
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

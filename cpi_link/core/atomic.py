"""Write files whole or not at all: a temp file in the same folder, fsync, then rename."""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(dest: Path, mode: int = 0o600) -> Iterator[Path]:
    """Yield a temp path beside `dest`; on success it is fsynced and renamed onto `dest`."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, mode)
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes(dest: Path, data: bytes, mode: int = 0o600) -> None:
    with atomic_path(dest, mode) as tmp:
        tmp.write_bytes(data)


def write_text(dest: Path, text: str, mode: int = 0o600) -> None:
    write_bytes(dest, text.encode("utf-8"), mode)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        # file_digest reads into one reused buffer: a fresh 1 MiB bytes per read cost a page fault
        # per 4 KiB (a 375 MB roster: ~90k faults)
        return hashlib.file_digest(fh, "sha256").hexdigest()


def sha256_and_line_breaks(path: Path, digest: bool = True) -> tuple[str | None, int, bytes]:
    """(sha256, count of b"\\n", last 4 KiB) of a file in one read: a CSV roster is hashed anyway,
    and its line breaks tell whether each data row is one line (numpy counts without the GIL).
    digest=False: the count alone (sha256 None)."""
    import numpy as np

    h = hashlib.sha256() if digest else None
    buf = bytearray(8 << 20)
    view = memoryview(buf)
    arr = np.frombuffer(buf, dtype=np.uint8)
    breaks, tail = 0, b""
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            if h is not None:
                h.update(view[:n])
            breaks += int(np.count_nonzero(arr[:n] == 10))
            tail = (tail + bytes(view[max(0, n - 4096):n]))[-4096:]
    return (h.hexdigest() if h is not None else None), breaks, tail


class HashingFile:
    """A binary file opened for writing that keeps the sha256 of what is written to it: a large
    output is hashed as it is written (by whichever thread writes it), not read back afterwards."""

    def __init__(self, path):
        self._fh = open(path, "wb")
        self._sha = hashlib.sha256()
        self.closed = False

    def write(self, data) -> int:
        self._sha.update(data)  # releases the GIL for large chunks
        return self._fh.write(data)

    def tell(self) -> int:
        return self._fh.tell()

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
            self.closed = True

    def writable(self) -> bool:
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def hexdigest(self) -> str:
        """The sha256 of everything written (call after close)."""
        return self._sha.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def crashpoint(name: str) -> None:
    """Crash-safety tests set CPI_LINK_CRASH_AT to a stage name to SIGKILL the process there."""
    if os.environ.get("CPI_LINK_CRASH_AT") == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    for var, sig in (("CPI_LINK_SIGTERM_AT", "SIGTERM"), ("CPI_LINK_SIGINT_AT", "SIGINT")):
        if os.environ.get(var) == name:  # signal tests: a real signal at a known stage
            import signal

            os.kill(os.getpid(), getattr(signal, sig))


def append_whole(path: Path, data: bytes) -> None:
    """Append data to a file whole or not at all: a write cut short (full disk, file-size limit) is
    truncated back to the length before it, then the error is raised. Never through a symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        except BaseException as exc:
            try:
                os.ftruncate(fd, start)
                os.fsync(fd)
            except OSError:
                pass  # left torn: the next start rolls the torn line back
            if isinstance(exc, OSError) and exc.filename is None:
                raise OSError(exc.errno, exc.strerror, str(path)) from None  # the message names the file
            raise
    finally:
        os.close(fd)


def read_nofollow(path: Path) -> bytes:
    """A file's bytes, refusing a symlink in its last component (ELOOP)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def unique_name(folder: Path, stem: str) -> Path:
    """A new name in folder that no clock (frozen or stepped back) or other process can repeat."""
    import secrets
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path(folder) / f"{stem}-{stamp}-p{os.getpid()}-{secrets.token_hex(4)}"


_SCRATCH = "tmp-write-"


@contextmanager
def scratch_for(dest: Path) -> Iterator[Path]:
    """A private (0700) folder beside dest for a writer's temp files (the file being written and a
    library's own scratch files, which may hold full IDs): removed on exit, whatever the exit; one a
    killed writer left is removed by the next writer's start there."""
    import re
    import secrets
    import shutil

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(r"^\." + _SCRATCH + r".*-p(\d+)-[0-9a-f]{6}$")
    try:
        leftovers = [p for p in dest.parent.iterdir() if pattern.match(p.name)]
    except OSError:
        leftovers = []
    for p in leftovers:
        pid = int(pattern.match(p.name).group(1))
        try:
            os.kill(pid, 0)
            continue  # its writer is still at work
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
    d = dest.parent / f".{_SCRATCH}{dest.name}-p{os.getpid()}-{secrets.token_hex(3)}"
    os.mkdir(d, 0o700)
    os.chmod(d, 0o700)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)

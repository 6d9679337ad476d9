"""Thread helpers for calc's pipeline: a function run beside the caller (a Future), an iterator
read ahead, a writer fed from a queue."""

from __future__ import annotations

from concurrent.futures import Future


def in_thread(fn, *args) -> Future:
    """fn(*args) in a daemon thread (a killed or interrupted command does not wait for it)."""
    import threading

    fut: Future = Future()

    def run():
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - raised by result() in the caller's thread
            fut.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return fut


def done(value) -> Future:
    """A result already known, as a Future."""
    fut: Future = Future()
    fut.set_result(value)
    return fut


def prefetch(it, depth: int = 1, name: str = "roster-prefetch"):
    """Iterate `it` in a background thread, `depth` items ahead: reading and checking the next roster
    batch (pyarrow and numpy release the GIL) overlaps computing this one. Errors surface in order."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def run():
        try:
            for x in it:
                if stop.is_set():
                    return
                q.put((x, None))
            q.put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put((None, exc))

    th = threading.Thread(target=run, name=name, daemon=True)
    th.start()
    try:
        while True:
            x, exc = q.get()
            if exc is not None:
                raise exc
            if x is done:
                return
            yield x
    finally:
        stop.set()
        while th.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            th.join(0.05)


class BackgroundWriter:
    """Feeds a ParquetWriter from a background thread (up to `depth` tables waiting), so encoding
    the payments overlaps preparing the next batches."""

    def __init__(self, writer, depth: int = 1):
        import queue
        import threading

        self.writer = writer
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.error = None
        self.th = threading.Thread(target=self._run, name="payments-writer", daemon=True)

    def _run(self):
        while True:
            t = self.q.get()
            if t is None:
                return
            if self.error is None:
                try:
                    self.writer.write_table(t)
                except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                    self.error = exc

    def write_table(self, t):
        if self.error is not None:
            raise self.error
        self.q.put(t)

    def __enter__(self):
        self.th.start()
        return self

    def __exit__(self, *exc):
        self.q.put(None)
        self.th.join()
        if self.error is not None and exc[0] is None:
            raise self.error
        return False

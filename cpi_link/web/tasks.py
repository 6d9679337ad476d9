"""Long work off the request thread: a roster check, a payment, an NBS fetch run in a thread of
their own while the page polls their progress (a 1M-row roster never blocks the page)."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("cpi_link.web")


@dataclass
class Task:
    id: str
    kind: str  # check | pay | fetch
    key: str  # what it works on (a month, "nbs"): one task per kind and key at a time
    state: str = "running"  # running | done | failed
    rows: int = 0
    result: Any = None
    error: str | None = None  # a person's message (the CLI's words), or the error id of a bug
    error_id: str | None = None
    meta: dict = field(default_factory=dict)

    def advance(self, n: int) -> None:
        self.rows += int(n)


class Tasks:
    """Tasks by id. start() gives the running task of the same kind and key instead of a second one:
    a double click or a second tab joins the work already under way."""

    def __init__(self, describe_error: Callable[[BaseException], tuple[str, str | None]]):
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._describe = describe_error

    def get(self, task_id: str | None) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id or "")

    def running(self, kind: str, key: str) -> Task | None:
        with self._lock:
            return next((t for t in self._tasks.values() if t.kind == kind and t.key == key and t.state == "running"), None)

    def latest(self, kind: str, key: str) -> Task | None:
        with self._lock:
            found = [t for t in self._tasks.values() if t.kind == kind and t.key == key]
            return found[-1] if found else None

    def start(self, kind: str, key: str, work: Callable[[Task], Any], meta: dict | None = None) -> tuple[Task, bool]:
        """(task, started): started is False when the same work was already running."""
        with self._lock:
            for t in self._tasks.values():
                if t.kind == kind and t.key == key and t.state == "running":
                    return t, False
            t = Task(id=secrets.token_hex(8), kind=kind, key=key, meta=meta or {})
            self._tasks[t.id] = t
        threading.Thread(target=self._run, args=(t, work), name=f"cpi-link-{kind}", daemon=True).start()
        return t, True

    def _run(self, t: Task, work: Callable[[Task], Any]) -> None:
        try:
            t.result = work(t)
            t.state = "done"
        except BaseException as exc:  # the page says what went wrong; a bug is logged with its id
            t.error, t.error_id = self._describe(exc)
            t.state = "failed"

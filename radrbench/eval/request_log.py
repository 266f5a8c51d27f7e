"""The append-only request log of a run (``requests.jsonl``).

Every finished request appends one JSON line written with a single ``write`` on a file
opened with ``O_APPEND``, so a run killed at any moment leaves whole lines (a torn last line
is dropped when the log is reopened). A resumed run reuses every ``ok`` entry and never
re-sends those requests.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["ok", "failed"]


class LogEntry(BaseModel):
    """One request's outcome (the request body itself is not stored: it holds images)."""

    model_config = ConfigDict(extra="ignore")

    key: str
    status: Status
    task: str = ""
    sample_id: str = ""
    text: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 1
    latency_s: float = 0.0
    started: float = 0.0
    finished: float = 0.0
    error: str | None = None
    faults: list[str] = Field(default_factory=list)


class RequestLog:
    """Reader and appender for ``requests.jsonl``; safe across threads and processes."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._done: dict[str, LogEntry] = {}
        self._offset = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_tail()
        self.refresh()

    def _repair_tail(self) -> None:
        """Drop a torn last line left by a kill in the middle of a write."""
        if not self.path.exists():
            return
        with self.path.open("rb+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)

    def _lines(self) -> Iterator[LogEntry]:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # a line being written right now; read it next time
                self._offset += len(raw)
                try:
                    yield LogEntry.model_validate(json.loads(raw))
                except (ValueError, TypeError):
                    continue

    def refresh(self) -> int:
        """Read lines appended since the last call (by any process); return how many."""
        with self._lock:
            count = 0
            for entry in self._lines():
                count += 1
                if entry.status == "ok":
                    self._done[entry.key] = entry
            return count

    def get(self, key: str) -> LogEntry | None:
        return self._done.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._done

    @property
    def done(self) -> dict[str, LogEntry]:
        return dict(self._done)

    def append(self, entry: LogEntry) -> None:
        line = (json.dumps(entry.model_dump(), ensure_ascii=False) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, line)
            finally:
                os.close(fd)
            if entry.status == "ok":
                self._done[entry.key] = entry

    def sync(self) -> None:
        """Flush the log to stable storage (end of a run)."""
        if self.path.exists():
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

"""An on-disk cache of judge results, and the judge wrapper that serves from it.

One SQLite file (WAL mode, ``busy_timeout``) that several processes may read and write at
once. A row is keyed by (judge spec, judge version, method, sha256 of the canonical JSON of
the call's inputs) and holds the result as JSON. ``None`` results (failures) are not stored,
so a later run tries them again. Reference extractions are keyed on the sample's chain and
report alone: one per sample, reused for every model and run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from radrbench.errors import JudgeError
from radrbench.metrics.judges.base import (
    Finding,
    FindingComparison,
    Judge,
    ReferenceFindings,
    StepJudgment,
)

__all__ = ["CACHE_FILE", "CacheCounters", "CachedJudge", "JudgeCache", "input_key"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
CACHE_FILE = "judge_cache.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
    spec TEXT NOT NULL,
    version TEXT NOT NULL,
    method TEXT NOT NULL,
    key TEXT NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (spec, version, method, key)
) WITHOUT ROWID
"""
_FINDINGS = TypeAdapter(list[Finding])
_REFERENCE = TypeAdapter(ReferenceFindings)
_COMPARISON = TypeAdapter(FindingComparison)
_STEPS = TypeAdapter(list[StepJudgment])


def input_key(inputs: object) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces, UTF-8) of a call's inputs."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class JudgeCache:
    """Judge results in one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path | str, *, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {round(busy_timeout * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise JudgeError(
                f"cannot open the judge cache: {error}",
                where=str(self.path),
                hint="delete the file to start an empty cache",
            ) from None
        self._lock = threading.Lock()

    def get(self, spec: str, version: str, method: str, key: str) -> str | None:
        """The stored result JSON, or ``None`` (also when the database cannot be read)."""
        query = "SELECT result FROM judgments WHERE spec=? AND version=? AND method=? AND key=?"
        try:
            with self._lock:
                row = self._db.execute(query, (spec, version, method, key)).fetchone()
        except sqlite3.Error as error:
            logger.warning("judge cache %s unreadable (%s); treating as a miss", self.path, error)
            return None
        return None if row is None else str(row[0])

    def put(self, spec: str, version: str, method: str, key: str, result: str) -> None:
        """Store a result (the first one written for a key wins)."""
        statement = "INSERT OR IGNORE INTO judgments VALUES (?, ?, ?, ?, ?, ?)"
        try:
            with self._lock:
                self._db.execute(statement, (spec, version, method, key, result, time.time()))
        except sqlite3.Error as error:
            logger.warning("judge cache %s not written (%s)", self.path, error)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class CacheCounters:
    """How a :class:`CachedJudge` answered its calls."""

    hits: int = 0
    """Served from the cache."""
    misses: int = 0
    """Forwarded to the wrapped judge (its calls)."""
    joined: int = 0
    """Waited for an identical call already in flight."""
    failures: int = 0
    """Forwarded calls that gave ``None`` (not cached)."""

    @property
    def lookups(self) -> int:
        return self.hits + self.misses + self.joined


class CachedJudge(Judge):
    """Wraps a judge: hits come from ``cache``, misses go to the judge and are stored.

    Identical calls made while one is in flight share its result. The cache stays open
    after :meth:`aclose` (its owner closes it).
    """

    def __init__(self, judge: Judge, cache: JudgeCache) -> None:
        self.judge = judge
        self.cache = cache
        self.spec = judge.spec
        self.version = judge.version
        self.counters = CacheCounters()
        self._pending: dict[tuple[str, str], asyncio.Future[Any]] = {}

    async def extract_findings(self, text: str) -> list[Finding] | None:
        return await self._cached(
            "extract_findings", {"text": text}, _FINDINGS, lambda: self.judge.extract_findings(text)
        )

    async def extract_reference(
        self, chain: Sequence[str], report: str
    ) -> ReferenceFindings | None:
        return await self._cached(
            "extract_reference",
            {"chain": list(chain), "report": report},
            _REFERENCE,
            lambda: self.judge.extract_reference(chain, report),
        )

    async def compare_findings(
        self, findings: Sequence[Finding], reference: ReferenceFindings
    ) -> FindingComparison | None:
        inputs = {
            "findings": [finding.model_dump(mode="json") for finding in findings],
            "reference": reference.model_dump(mode="json"),
        }
        return await self._cached(
            "compare_findings",
            inputs,
            _COMPARISON,
            lambda: self.judge.compare_findings(findings, reference),
        )

    async def label_steps(
        self, reasoning: str, reference: ReferenceFindings
    ) -> list[StepJudgment] | None:
        inputs = {"reasoning": reasoning, "reference": reference.model_dump(mode="json")}
        return await self._cached(
            "label_steps", inputs, _STEPS, lambda: self.judge.label_steps(reasoning, reference)
        )

    async def aclose(self) -> None:
        await self.judge.aclose()

    async def _cached(
        self,
        method: str,
        inputs: object,
        adapter: TypeAdapter[T],
        compute: Callable[[], Awaitable[T | None]],
    ) -> T | None:
        key = input_key(inputs)
        stored = self.cache.get(self.spec, self.version, method, key)
        if stored is not None:
            try:
                value = adapter.validate_json(stored)
            except ValidationError:
                logger.warning("judge cache row %s/%s does not validate; recomputing", method, key)
            else:
                self.counters.hits += 1
                return value
        pending = self._pending.get((method, key))
        if pending is None:
            self.counters.misses += 1
            pending = asyncio.ensure_future(self._compute(method, key, adapter, compute))
            self._pending[(method, key)] = pending
        else:
            self.counters.joined += 1
        result: T | None = await asyncio.shield(pending)
        return result

    async def _compute(
        self,
        method: str,
        key: str,
        adapter: TypeAdapter[T],
        compute: Callable[[], Awaitable[T | None]],
    ) -> T | None:
        try:
            value = await compute()
            if value is None:
                self.counters.failures += 1
            else:
                result = adapter.dump_json(value).decode("utf-8")
                self.cache.put(self.spec, self.version, method, key, result)
            return value
        finally:
            self._pending.pop((method, key), None)

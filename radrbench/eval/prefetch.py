"""Start sending requests before lm-eval has even been imported.

Importing lm-eval (and ``datasets``) and building its tasks takes seconds; the requests it
will make are known in advance, because radrbench builds the prompts itself. ``start``
forks a light child process that plans the same requests from the benchmark files and sends
them, appending responses to the run's request log, while the parent imports lm-eval and
builds its tasks. The parent's model then finds the responses in the log (same keys: both
sides use :mod:`radrbench.eval.requests`) and only sends what the child did not.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from radrbench.data.benchmark import image_root, iter_samples, read_manifest
from radrbench.eval.endpoint import Endpoint
from radrbench.eval.request_log import RequestLog
from radrbench.eval.requests import ChatRequest, Generation, build_request
from radrbench.tasks.catalog import TaskSpec
from radrbench.tasks.prompts import PromptProfile, build_prompt

logger = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Plan:
    """What lm-eval will ask for: tasks, their data, prompt, decoding and limit."""

    specs: Sequence[TaskSpec]
    data_dirs: dict[str, Path]
    profile: PromptProfile
    generation: Generation
    limit: int | None


def planned_requests(plan: Plan, endpoint: Endpoint) -> Iterator[ChatRequest]:
    """The requests in the order lm-eval will make them (first ``limit`` docs per task)."""
    for spec in plan.specs:
        bench = plan.data_dirs[spec.name]
        root = image_root(bench, read_manifest(bench))
        # lm-eval takes a task's first `limit` samples in file order: stop reading there
        select = {"source": spec.source, "task": spec.family, "split": "test"}
        for sample in itertools.islice(iter_samples(bench, select), plan.limit):
            files = [str(root / ref.path) for ref in sample.ordered_images()]
            yield build_request(
                model=endpoint.model,
                task=spec.name,
                sample_id=sample.id,
                prompt=build_prompt(sample, plan.profile),
                image_ids=files,
                system=plan.profile.system,
                generation=plan.generation,
            )


class Prefetch:
    """Handle on the prefetching child process."""

    def __init__(self, pid: int, log: RequestLog):
        self.pid = pid
        self.log = log
        self.exit_code: int | None = None

    def running(self) -> bool:
        if self.exit_code is not None:
            return False
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return True
        self.exit_code = os.waitstatus_to_exitcode(status)
        return False

    def wait_for(self, keys: set[str], poll_s: float = 0.02) -> None:
        """Block until every key is in the log or the child has finished."""
        while True:
            self.log.refresh()
            if all(key in self.log for key in keys) or not self.running():
                self.log.refresh()
                return
            time.sleep(poll_s)

    def stop(self) -> None:
        if self.running():
            os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
            self.exit_code = -signal.SIGTERM


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def start(plan: Plan, endpoint: Endpoint, log_path: Path) -> Prefetch | None:
    """Fork the prefetcher; ``None`` where fork is unavailable (the parent sends everything)."""
    if not hasattr(os, "fork"):
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return Prefetch(pid, RequestLog(log_path))
    code = 0
    try:
        _die_with_parent()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        from radrbench.eval.client import RequestRunner  # aiohttp: imported by the child only

        log = RequestLog(log_path)
        asyncio.run(RequestRunner(endpoint, log).run(planned_requests(plan, endpoint)))
    except BaseException:  # the parent re-sends what is missing and reports errors itself
        code = 1
    finally:
        os._exit(code)

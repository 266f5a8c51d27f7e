"""What the mock server saw: one record per chat request, and a summary.

Timestamps are ``time.monotonic()`` (comparable with a client's on the same machine, also
across processes) and ``time.time()``. Request headers are never recorded.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RequestRecord:
    """One chat-completion request attempt."""

    index: int
    arrival: float
    arrival_wall: float
    in_flight_at_arrival: int
    body_sha256: str = ""
    attempt: int = 0
    model: str = ""
    stream: bool = False
    fault: str | None = None
    latency: float = 0.0
    status: int | None = None
    outcome: str = "pending"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    completion: float | None = None
    completion_wall: float | None = None


@dataclass(frozen=True)
class MockStats:
    """Summary of the chat requests since start or the last reset."""

    count: int
    completed: int
    in_flight: int
    max_in_flight: int
    first_arrival: float | None
    first_arrival_wall: float | None
    last_completion: float | None
    last_completion_wall: float | None
    faults: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)


class StatsRecorder:
    """Counts requests in flight and keeps their records (single event loop, no locking)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Forget records and attempt counts; requests still in flight keep counting."""
        self.records: list[RequestRecord] = []
        self.attempts: Counter[str] = Counter()
        self.max_in_flight = self.in_flight

    def begin(self) -> RequestRecord:
        """A request arrived."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        record = RequestRecord(len(self.records), time.monotonic(), time.time(), self.in_flight)
        self.records.append(record)
        return record

    def identify(self, record: RequestRecord, digest: str) -> None:
        """Set the body digest and number this attempt among requests with the same body."""
        record.body_sha256 = digest
        record.attempt = self.attempts[digest]
        self.attempts[digest] += 1

    def finish(self, record: RequestRecord) -> None:
        """The request is done (answered, failed, or the client went away)."""
        self.in_flight -= 1
        record.completion, record.completion_wall = time.monotonic(), time.time()

    def summary(self) -> MockStats:
        """The counts and the span of the recorded requests."""
        done = [r for r in self.records if r.completion is not None]
        last = max(done, key=lambda r: r.completion or 0.0, default=None)
        return MockStats(
            count=len(self.records),
            completed=len(done),
            in_flight=self.in_flight,
            max_in_flight=self.max_in_flight,
            first_arrival=self.records[0].arrival if self.records else None,
            first_arrival_wall=self.records[0].arrival_wall if self.records else None,
            last_completion=last.completion if last else None,
            last_completion_wall=last.completion_wall if last else None,
            faults=dict(Counter(r.fault for r in self.records if r.fault)),
            outcomes=dict(Counter(r.outcome for r in self.records)),
        )

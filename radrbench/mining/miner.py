"""``radrbench mine``: plan → reasoning → refine for every sample with a report, then checks.

Each call goes through the judge cache (SQLite, keyed by LLM spec, prompt version and the
messages), and each finished sample is appended to ``mining/log.jsonl`` at once, so a killed
run resumes where it stopped and a rerun makes no calls. When every sample is done the
chains are written into ``samples.jsonl`` (accepted ones as ``reasoning``, the record in
``meta["mining"]``) and rejected chains, with their reasons, go to ``mining/rejected.jsonl``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radrbench.baselines.guard import check_data_use
from radrbench.data.benchmark import load_samples, read_manifest, write_benchmark
from radrbench.data.schema import Manifest, Sample
from radrbench.errors import ServerError
from radrbench.metrics.judges._llm_client import JSONCaller
from radrbench.metrics.judges.cache import JudgeCache, input_key
from radrbench.metrics.judges.llm import public_url
from radrbench.mining.checks import check_chain, reason_kind
from radrbench.mining.client import endpoint_of, make_caller, resolve_spec
from radrbench.mining.prompts import MiningPrompts, PlanReply, StepsReply, load_mining_prompts
from radrbench.mining.record import META_KEY, MiningRecord

R = TypeVar("R", bound=BaseModel)
MINING_DIR = "mining"
LOG_FILE = "log.jsonl"
REJECTED_FILE = "rejected.jsonl"
SUMMARY_FILE = "summary.json"
CACHE_FILE = "cache.sqlite"
NO_REASONING_SOURCES = frozenset({"rsna", "siim", "phantom-rsna", "phantom-siim"})


class MiningOptions(BaseModel):
    """How ``radrbench mine`` runs (none of this but the seed enters the prompt version)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int = Field(16, ge=1, le=1024)
    timeout: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    seed: int = 0
    max_tokens: int = Field(2048, ge=1)
    limit: int | None = Field(None, ge=1)
    """Mine at most this many samples (for trying)."""
    overwrite: bool = False
    """Mine samples that already have a chain too."""
    prompts_dir: Path | None = None
    cache: Path | None = None
    """The SQLite cache (default ``DIR/mining/cache.sqlite``)."""
    input_price: float | None = None
    """USD per million prompt tokens (cost accounting)."""
    output_price: float | None = None
    acknowledged: bool = False
    """Allow credentialed reports to go to a public third-party API."""


class LogEntry(BaseModel):
    """One finished sample in ``mining/log.jsonl``: the LLM's plan and refined chain.

    The checks are not logged: they are deterministic and run when the benchmark is written
    (so they never hold up the requests, and improved checks apply without new calls).
    """

    id: str
    llm: str
    prompts: str
    plan: list[str]
    steps: list[str]


@dataclass
class MiningSummary:
    llm: str
    prompts: str
    targets: int = 0
    resumed: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["reasons"] = dict(self.reasons.most_common())
        return data


def needs_mining(sample: Sample, overwrite: bool) -> bool:
    """Samples with a report, from sources with reasoning, without a chain (or all)."""
    if sample.source in NO_REASONING_SOURCES or not sample.report:
        return False
    return overwrite or not sample.reasoning


class Miner:
    """Runs the three calls of one sample through the cache and the JSON caller."""

    def __init__(self, caller: JSONCaller, prompts: MiningPrompts, cache: JudgeCache, spec: str):
        self.caller, self.prompts, self.cache, self.spec = caller, prompts, cache, spec
        self.hits = 0

    async def _call(self, step: str, model: type[R], **values: Any) -> R | None:
        messages = self.prompts.messages(step, **values)
        key = input_key({"step": step, "messages": messages})
        stored = self.cache.get(self.spec, self.prompts.version, f"mine_{step}", key)
        if stored is not None:
            try:
                value = model.model_validate_json(stored)
            except ValidationError:
                pass
            else:
                self.hits += 1
                return value
        reply = await self.caller.call(
            messages, self.prompts.response_format(step), lambda data: _parse(model, data)
        )
        if reply is not None:
            self.cache.put(
                self.spec, self.prompts.version, f"mine_{step}", key, reply.model_dump_json()
            )
        return reply

    async def mine(self, sample: Sample) -> LogEntry | None:
        """The mined chain of one sample; ``None`` when a call failed after its retries."""
        answer = (
            sample.answer
            if sample.options is None
            else f"{sample.answer}) {sample.options[sample.answer]}"
        )
        common = {"question": sample.question, "answer": answer}
        plan = await self._call("plan", PlanReply, **common)
        if plan is None:
            return None
        context = {**common, "report": sample.report, "prior_report": sample.prior_report}
        draft = await self._call("reason", StepsReply, plan=plan.plan, **context)
        if draft is None:
            return None
        refined = await self._call("refine", StepsReply, steps=draft.steps, **context)
        if refined is None:
            return None
        return LogEntry(
            id=sample.id,
            llm=self.spec,
            prompts=self.prompts.version,
            plan=[" ".join(p.split()) for p in plan.plan],
            steps=[" ".join(step.split()) for step in refined.steps if step.strip()],
        )


def _parse(model: type[R], data: object) -> R | None:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def read_log(path: Path, spec: str, version: str) -> dict[str, LogEntry]:
    """Finished samples of this LLM and prompt version (a torn last line is ignored)."""
    done: dict[str, LogEntry] = {}
    if not path.is_file():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = LogEntry.model_validate_json(line)
        except ValidationError:
            continue
        if entry.llm == spec and entry.prompts == version:
            done[entry.id] = entry
    return done


def apply_entry(sample: Sample, entry: LogEntry) -> Sample:
    """The sample with its checked chain (accepted) or only the rejection record."""
    reasons = check_chain(sample, entry.steps)
    record = MiningRecord(
        llm=entry.llm,
        prompts=entry.prompts,
        status="rejected" if reasons else "accepted",
        plan=entry.plan,
        reasons=reasons,
    )
    meta = {**sample.meta, META_KEY: record.model_dump(mode="json")}
    if record.status == "accepted":
        return sample.model_copy(update={"reasoning": entry.steps, "meta": meta})
    return sample.model_copy(update={"meta": meta})


async def _run(
    miner: Miner,
    targets: Sequence[Sample],
    log: Path,
    concurrency: int,
    progress: Callable[[int], None] | None,
) -> dict[str, LogEntry]:
    finished: dict[str, LogEntry] = {}
    limit = asyncio.Semaphore(4 * concurrency)
    done = 0
    with log.open("a", encoding="utf-8") as handle:

        async def one(sample: Sample) -> None:
            nonlocal done
            async with limit:
                entry = await miner.mine(sample)
            if entry is not None:
                handle.write(entry.model_dump_json() + "\n")
                handle.flush()
                finished[sample.id] = entry
            done += 1
            if progress:
                progress(done)

        try:
            await asyncio.gather(*(one(sample) for sample in targets))
        finally:
            await miner.caller.aclose()
    return finished


def mine_benchmark(
    bench_dir: Path,
    spec: str,
    options: MiningOptions | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> MiningSummary:
    """Mine chains for ``bench_dir`` in place; returns counts, tokens and cost."""
    options = options or MiningOptions()
    _, base_url, recorded = resolve_spec(spec)
    manifest = read_manifest(bench_dir)
    samples = load_samples(bench_dir)
    targets = [s for s in samples if needs_mining(s, options.overwrite)][: options.limit]
    check_data_use(
        {s.source for s in targets}, endpoint_of(base_url), acknowledged=options.acknowledged
    )
    prompts = load_mining_prompts(options.prompts_dir, {"temperature": 0, "seed": options.seed})
    caller = make_caller(
        spec,
        concurrency=options.concurrency,
        timeout=options.timeout,
        max_retries=options.max_retries,
        seed=options.seed,
        max_tokens=options.max_tokens,
    )
    work = bench_dir / MINING_DIR
    work.mkdir(exist_ok=True)
    summary = MiningSummary(llm=recorded, prompts=prompts.version, targets=len(targets))
    done = read_log(work / LOG_FILE, recorded, prompts.version)
    summary.resumed = sum(s.id in done for s in targets)
    todo = [s for s in targets if s.id not in done]
    started = time.perf_counter()
    with JudgeCache(options.cache or work / CACHE_FILE) as cache:
        miner = Miner(caller, prompts, cache, recorded)
        if progress:
            progress(summary.resumed, len(targets))
        report = (lambda n: progress(summary.resumed + n, len(targets))) if progress else None
        finished = asyncio.run(_run(miner, todo, work / LOG_FILE, options.concurrency, report))
    summary.seconds = time.perf_counter() - started
    stats = caller.stats
    if todo and not finished and set(stats.errors) <= {"connection", "timeout"}:
        raise ServerError(
            f"cannot reach the mining LLM at {public_url(endpoint_of(base_url))}",
            where="--llm",
            hint="start the server (e.g. 'radrbench serve NAME') or check the base URL",
        )
    done |= finished
    summary.requests, summary.retries, summary.cache_hits = (
        stats.requests,
        stats.retries,
        miner.hits,
    )
    summary.prompt_tokens, summary.completion_tokens = stats.prompt_tokens, stats.completion_tokens
    if options.input_price is not None or options.output_price is not None:
        summary.cost_usd = (
            stats.prompt_tokens * (options.input_price or 0.0)
            + stats.completion_tokens * (options.output_price or 0.0)
        ) / 1e6
    _write(bench_dir, manifest, samples, targets, done, summary)
    return summary


def _write(
    bench_dir: Path,
    manifest: Manifest,
    samples: list[Sample],
    targets: Sequence[Sample],
    done: dict[str, LogEntry],
    summary: MiningSummary,
) -> None:
    wanted = {s.id for s in targets}
    rejected = []
    updated = []
    for sample in samples:
        entry = done.get(sample.id) if sample.id in wanted else None
        if entry is None:
            updated.append(sample)
            continue
        mined = apply_entry(sample, entry)
        updated.append(mined)
        record = MiningRecord.model_validate(mined.meta[META_KEY])
        if record.status == "accepted":
            summary.accepted += 1
        else:
            summary.rejected += 1
            summary.reasons.update({reason_kind(r) for r in record.reasons})
            rejected.append(json.dumps({**entry.model_dump(), "reasons": record.reasons}))
    summary.failed = len(wanted) - summary.accepted - summary.rejected
    write_benchmark(
        bench_dir,
        updated,
        name=manifest.name,
        version=manifest.version,
        description=manifest.description,
        image_root=manifest.image_root,
        generator={
            **manifest.generator,
            "mining": {"llm": summary.llm, "prompts": summary.prompts},
        },
    )
    work = bench_dir / MINING_DIR
    (work / REJECTED_FILE).write_text("".join(f"{line}\n" for line in rejected), encoding="utf-8")
    (work / SUMMARY_FILE).write_text(
        json.dumps(summary.as_json(), indent=2) + "\n", encoding="utf-8"
    )

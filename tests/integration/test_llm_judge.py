"""The ``openai:`` judge against a real local OpenAI-compatible server playing a scripted judge."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from radrbench.dev import scripted_judge
from radrbench.dev._mock_responders import NoScriptedReply
from radrbench.dev.mock_openai import MockConfig, MockServer, Responder, serve_mock
from radrbench.errors import JudgeError
from radrbench.metrics.judges.base import Finding
from radrbench.metrics.judges.cache import CachedJudge, JudgeCache
from radrbench.metrics.judges.llm import LLMJudge, LLMJudgeOptions
from radrbench.metrics.radrscore import SampleScore, ScoringItem, score_many, score_reasoning
from radrbench.resources import resource_dir

pytestmark = [pytest.mark.server, pytest.mark.timeout(120)]

API_KEY = "sk-test-radrbench-0123456789abcdef"
CHAIN = [
    "The left costophrenic angle is blunted.",
    "There is a left pleural effusion.",
    "No pneumothorax is seen.",
]
REPORT = "Small left pleural effusion. No pneumothorax. Heart size is normal."
GOOD_THINK = "There is a left pleural effusion. No pneumothorax. Look for cardiomegaly."
BAD_THINK = "There is no pleural effusion. There is a right pneumothorax."
GOOD = f"<think>{GOOD_THINK}</think><answer>A</answer>"
BAD = f"<think>{BAD_THINK}</think><answer>B</answer>"


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def server() -> Iterator[MockServer]:
    with serve_mock(MockConfig(responder=scripted_judge.respond)) as running:
        yield running


def make_judge(server: MockServer, **options: Any) -> LLMJudge:
    settings = {"backoff": 0.01, "max_delay": 5.0, "timeout": 5.0, "max_retries": 2, **options}
    return LLMJudge(
        "judge-model", base_url=server.base_url, options=LLMJudgeOptions.model_validate(settings)
    )


def score(judge: LLMJudge, output: str) -> SampleScore:
    async def run() -> SampleScore:
        try:
            return await score_reasoning(
                judge, sample_id="s", output=output, chain=CHAIN, report=REPORT
            )
        finally:
            await judge.aclose()

    return asyncio.run(run())


def extract(judge: LLMJudge, text: str) -> list[Finding] | None:
    async def run() -> list[Finding] | None:
        try:
            return await judge.extract_findings(text)
        finally:
            await judge.aclose()

    return asyncio.run(run())


def items(count: int, think: str) -> list[ScoringItem]:
    """``count`` samples with distinct chains, reports and outputs (no two calls alike)."""
    return [
        ScoringItem(
            f"s{i}",
            f"<think>Study {i}. {think}</think><answer>A</answer>",
            [f"Study {i}.", *CHAIN],
            f"Study {i}. {REPORT}",
        )
        for i in range(count)
    ]


def wrapping(wrap: Any) -> Responder:
    """The scripted judge with its reply text passed through ``wrap``."""
    return lambda request: wrap(scripted_judge.respond(request))


def test_normal_replies_give_the_right_findings_and_labels(server: MockServer) -> None:
    judge = make_judge(server)
    good = score(judge, GOOD)
    assert good.failures == ()
    assert good.model_findings == (
        Finding(observation="pleural effusion", status="present", location="left"),
        Finding(observation="pneumothorax", status="absent"),
    )
    assert good.recalled == (True, True) and good.consistent == (True, True)
    assert [step.label for step in good.steps or ()] == ["supported", "supported", "unsupported"]
    assert (good.completeness, good.factuality) == (1.0, 1.0)
    assert good.effectiveness == pytest.approx(2 / 3)
    bad = score(make_judge(server), BAD)
    assert (bad.completeness, bad.factuality, bad.effectiveness) == (0.0, 0.0, 0.0)
    assert [step.label for step in bad.steps or ()] == ["contradicted", "contradicted"]
    assert judge.stats.calls == 4 and judge.stats.failures == 0  # reference + 3
    assert judge.spec == f"openai:judge-model@{server.base_url}"


def test_json_inside_prose_and_fences_is_accepted() -> None:
    fenced = wrapping(lambda text: f"Here is my grading:\n```json\n{text}\n```\nDone.")
    with serve_mock(MockConfig(responder=fenced)) as server:
        judge = make_judge(server)
        assert score(judge, GOOD).completeness == 1.0
        assert judge.stats.errors == {}


def test_unparseable_replies_are_retried_then_none_and_counted() -> None:
    with serve_mock(MockConfig(responder="fixed:I think the findings are fine {oops")) as server:
        judge = make_judge(server, max_retries=2)
        assert extract(judge, "There is a left pleural effusion.") is None
        assert server.stats().count == 3
    assert judge.stats.errors == {"unparseable": 3}
    assert (judge.stats.failures, judge.stats.retries) == (1, 2)


def test_replies_that_break_the_schema_are_unparseable() -> None:
    wrong = wrapping(lambda text: json.dumps({"findings": [{"observation": "", "status": "x"}]}))
    with serve_mock(MockConfig(responder=wrong)) as server:
        judge = make_judge(server, max_retries=1)
        assert extract(judge, "There is a left pleural effusion.") is None
    assert judge.stats.errors == {"unparseable": 2}


@pytest.mark.parametrize("fault", ["malformed", "truncate", "reset", "500"])
def test_transport_faults_are_retried(fault: str) -> None:
    config = MockConfig(responder=scripted_judge.respond, fault_first_n=2, fault_first_kind=fault)
    with serve_mock(config) as server:
        judge = make_judge(server, max_retries=2)
        findings = extract(judge, "There is a left pleural effusion.")
        assert server.stats().count == 3
    assert findings == [Finding(observation="pleural effusion", status="present", location="left")]
    assert judge.stats.retries == 2 and judge.stats.failures == 0


def test_server_errors_beyond_the_retries_give_none() -> None:
    config = MockConfig(responder=scripted_judge.respond, faults={"500": 1.0})
    with serve_mock(config) as server:
        judge = make_judge(server, max_retries=3)
        assert extract(judge, "There is a left pleural effusion.") is None
        assert server.stats().count == 4
    assert judge.stats.errors == {"server_error": 4} and judge.stats.failures == 1


def test_429_waits_for_retry_after() -> None:
    config = MockConfig(
        responder=scripted_judge.respond, fault_first_n=1, fault_first_kind="429", retry_after=0.8
    )
    with serve_mock(config) as server:
        judge = make_judge(server)
        started = time.monotonic()
        assert extract(judge, "No pneumothorax.") == [
            Finding(observation="pneumothorax", status="absent")
        ]
        elapsed = time.monotonic() - started
        first, second = server.records()
    assert elapsed >= 0.8 * 0.9
    assert first.completion is not None and second.arrival - first.completion >= 0.8 * 0.9
    assert judge.stats.errors == {"rate_limited": 1}


def test_other_client_errors_are_not_retried() -> None:
    def refuse(request: dict[str, Any]) -> str:
        raise NoScriptedReply("the mock answers 400")

    with serve_mock(MockConfig(responder=refuse)) as server:
        judge = make_judge(server, max_retries=3)
        assert extract(judge, "No pneumothorax.") is None
        assert server.stats().count == 1
    assert judge.stats.errors == {"rejected": 1}


def test_an_authentication_failure_is_a_judge_error_without_the_key() -> None:
    async def unauthorized(request: web.Request) -> web.Response:
        body = {"error": {"message": f"Incorrect API key provided: {API_KEY}", "code": None}}
        return web.json_response(body, status=401)

    async def run() -> JudgeError:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", unauthorized)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        judge = LLMJudge("m", base_url=f"http://127.0.0.1:{port}/v1")
        try:
            with pytest.raises(JudgeError) as raised:
                await judge.extract_findings("No pneumothorax.")
            return raised.value
        finally:
            await judge.aclose()
            await runner.cleanup()

    error = asyncio.run(run())
    assert "401" in str(error) and API_KEY not in str(error)


def test_slow_replies_within_the_timeout_are_fine_beyond_it_none() -> None:
    with serve_mock(MockConfig(responder=scripted_judge.respond, latency=0.4)) as server:
        judge = make_judge(server, timeout=3.0)
        assert extract(judge, "No pneumothorax.") is not None
        slow = make_judge(server, timeout=0.15, max_retries=1)
        started = time.monotonic()
        assert extract(slow, "No pneumothorax.") is None
        assert time.monotonic() - started < 2.0
    assert slow.stats.errors == {"timeout": 2} and slow.stats.failures == 1


def test_slow_stream_beyond_the_timeout_is_cut() -> None:
    config = MockConfig(
        responder=scripted_judge.respond, faults={"slow_stream": 1.0}, slow_seconds=2.0
    )
    with serve_mock(config) as server:
        judge = make_judge(server, timeout=0.5, max_retries=0)
        assert extract(judge, "No pneumothorax.") is None
    assert judge.stats.errors == {"timeout": 1}


def test_concurrency_limit_is_never_exceeded(tmp_path: Path) -> None:
    config = MockConfig(
        responder=scripted_judge.respond, latency=0.05, faults={"429": 0.2}, retry_after=0.1
    )
    with serve_mock(config) as server:
        judge = make_judge(server, concurrency=4, max_retries=6)
        scores = asyncio.run(_score_all(judge, items(12, GOOD_THINK), tmp_path / "cache.sqlite"))
        stats = server.stats()
    assert stats.max_in_flight == 4
    assert stats.faults.get("429", 0) > 0
    assert all(s.failures == () and s.completeness == 1.0 for s in scores)


def test_failures_become_none_and_are_counted(tmp_path: Path) -> None:
    def responder(request: dict[str, Any]) -> str:
        text = scripted_judge.respond(request)
        return "no json here" if "GARBLE" in json.dumps(request["messages"]) else text

    batch = [
        *items(3, GOOD_THINK),
        ScoringItem("g", "<think>GARBLE left effusion.</think>", CHAIN, REPORT),
    ]
    with serve_mock(MockConfig(responder=responder)) as server:
        judge = make_judge(server, max_retries=1)
        scores = asyncio.run(_score_all(judge, batch, tmp_path / "cache.sqlite"))
    assert [s.failures for s in scores[:3]] == [(), (), ()]
    assert scores[3].failures == ("extract", "steps")
    assert (scores[3].factuality, scores[3].completeness, scores[3].effectiveness) == (
        None,
        None,
        None,
    )
    assert judge.stats.failures == 2 and judge.stats.errors == {"unparseable": 4}


async def _score_all(
    judge: LLMJudge, batch: list[ScoringItem], cache_path: Path
) -> list[SampleScore]:
    with JudgeCache(cache_path) as cache:
        cached = CachedJudge(judge, cache)
        try:
            return await score_many(cached, batch, concurrency=16)
        finally:
            await cached.aclose()


def test_rescoring_makes_no_calls_and_a_new_model_at_most_three(
    server: MockServer, tmp_path: Path
) -> None:
    path, count = tmp_path / "judge_cache.sqlite", 6
    first = asyncio.run(_score_all(make_judge(server), items(count, GOOD_THINK), path))
    assert server.stats().count == count * 4  # reference + 3 per sample
    server.reset()
    again = asyncio.run(_score_all(make_judge(server), items(count, GOOD_THINK), path))
    assert server.stats().count == 0
    assert [s.model_dump() for s in again] == [s.model_dump() for s in first]
    server.reset()
    other = asyncio.run(_score_all(make_judge(server), items(count, BAD_THINK), path))
    assert server.stats().count == count * 3
    assert all(s.completeness == 0.0 for s in other)


def test_an_edited_prompt_invalidates_the_cache(server: MockServer, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for source in (resource_dir("metrics") / "prompts").glob("*.md"):
        (prompts / source.name).write_text(source.read_text())
    path = tmp_path / "judge_cache.sqlite"
    asyncio.run(_score_all(make_judge(server, prompts_dir=prompts), items(1, GOOD_THINK), path))
    edited = prompts / "label_steps.md"
    edited.write_text(edited.read_text() + "\nBe strict.\n")
    server.reset()
    judge = make_judge(server, prompts_dir=prompts)
    asyncio.run(_score_all(judge, items(1, GOOD_THINK), path))
    assert server.stats().count == 4


def test_the_api_key_is_written_nowhere(server: MockServer, tmp_path: Path) -> None:
    log = tmp_path / "judge.log"
    handler = logging.FileHandler(log)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        faults = MockConfig(responder=scripted_judge.respond, faults={"500": 0.3, "429": 0.2})
        with serve_mock(faults) as flaky:
            batch = items(4, GOOD_THINK)
            asyncio.run(_score_all(make_judge(flaky), batch, tmp_path / "cache.sqlite"))
            records = json.dumps([vars(record) for record in flaky.records()])
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert {path.name for path in written} >= {"judge.log", "cache.sqlite"}
    assert log.stat().st_size > 0
    for path in written:
        assert API_KEY.encode() not in path.read_bytes(), path
    assert API_KEY not in records

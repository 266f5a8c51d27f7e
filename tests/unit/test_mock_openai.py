"""The mock OpenAI server: real HTTP from httpx and the openai client, latency, faults, modes."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from radrbench.dev._mock_config import build_parser, config_from_args, config_to_argv
from radrbench.dev._mock_responders import IMAGE_TOKENS
from radrbench.dev.mock_openai import (
    MockConfig,
    MockServer,
    main,
    parse_faults,
    serve_mock,
    start_mock_process,
)
from radrbench.errors import ConfigError, ServerError

pytestmark = [pytest.mark.server, pytest.mark.timeout(120)]

SECRET = "sk-radrbench-test-SECRET-4242"
QUESTION = "Is there a pleural effusion?\nOptions:\nA) Yes\nB) No\nC) Maybe\nD) Cannot tell"


def _body(text: str = QUESTION, **extra: Any) -> dict[str, Any]:
    return {"model": "tiny", "messages": [{"role": "user", "content": text}], **extra}


HTTP = httpx.Client(trust_env=False)


@pytest.fixture(autouse=True, scope="module")
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


def _post(server: MockServer, body: dict[str, Any], timeout: float = 10.0) -> httpx.Response:
    headers = {"Authorization": f"Bearer {SECRET}"}
    url = f"{server.base_url}/chat/completions"
    return HTTP.post(url, json=body, headers=headers, timeout=timeout)


def _client(server: MockServer, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=SECRET, max_retries=retries, timeout=10)


@pytest.fixture
def server() -> Iterator[MockServer]:
    with serve_mock(MockConfig()) as running:
        yield running


def test_openai_client_gets_a_deterministic_completion(server: MockServer) -> None:
    client = _client(server)
    first = client.chat.completions.create(model="tiny", messages=_body()["messages"])
    again = client.chat.completions.create(model="tiny", messages=_body()["messages"])
    content = first.choices[0].message.content or ""
    assert content == again.choices[0].message.content
    assert content.startswith("<think>") and content[-len("<answer>X</answer>") :] in {
        f"<answer>{letter}</answer>" for letter in "ABCD"
    }
    assert first.model == "tiny" and first.choices[0].finish_reason == "stop"
    assert first.usage is not None and first.usage.completion_tokens > 0
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert [model.id for model in client.models.list()] == ["mock-model"]
    assert HTTP.get(f"{server.url}/health").json() == {"status": "ok"}
    no_options = _post(server, _body("Describe the image.")).json()
    assert no_options["choices"][0]["message"]["content"].endswith("<answer>none</answer>")


def test_streaming_matches_the_plain_reply(server: MockServer) -> None:
    client = _client(server)
    plain = client.chat.completions.create(model="tiny", messages=_body()["messages"])
    stream = client.chat.completions.create(
        model="tiny",
        messages=_body()["messages"],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    deltas = [chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices]
    assert len(deltas) > 3
    assert "".join(deltas) == plain.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage == plain.usage


def test_stop_and_max_tokens_shorten_the_reply(server: MockServer) -> None:
    stopped = _post(server, _body(stop=["</think>"])).json()["choices"][0]
    assert stopped["finish_reason"] == "stop" and "</think>" not in stopped["message"]["content"]
    limited = _post(server, _body(max_tokens=3)).json()
    assert limited["choices"][0]["finish_reason"] == "length"
    assert limited["usage"]["completion_tokens"] == 3


def test_images_count_as_prompt_tokens_and_text_parts_are_read(server: MockServer) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    parts = [image, image, {"type": "text", "text": QUESTION}]
    reply = _post(server, {"model": "tiny", "messages": [{"role": "user", "content": parts}]})
    assert reply.json()["usage"]["prompt_tokens"] > 2 * IMAGE_TOKENS
    assert reply.json()["choices"][0]["message"]["content"][-10] in "ABCD"


def test_bad_body_is_a_400(server: MockServer) -> None:
    response = HTTP.post(f"{server.base_url}/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert "messages" in response.json()["error"]["message"]


async def _concurrent(server: MockServer, n: int, limit: int) -> list[float]:
    gate = asyncio.Semaphore(limit)
    limits = httpx.Limits(max_connections=limit)
    async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as client:

        async def one(i: int) -> float:
            async with gate:
                start = time.monotonic()
                url = f"{server.base_url}/chat/completions"
                response = await client.post(url, json=_body(f"question {i}"))
                response.raise_for_status()
                return time.monotonic() - start

        return await asyncio.gather(*(one(i) for i in range(n)))


def test_latency_is_honoured_and_requests_overlap() -> None:
    latency, n = 0.2, 32
    with serve_mock(MockConfig(latency=latency)) as server:
        start = time.monotonic()
        durations = asyncio.run(_concurrent(server, n, n))
        elapsed = time.monotonic() - start
        stats = server.stats()
    assert min(durations) >= latency
    assert elapsed < n * latency / 4  # loose: serial would take n * latency
    assert stats.count == stats.completed == n and stats.in_flight == 0
    assert 1 < stats.max_in_flight <= n
    assert stats.first_arrival is not None and stats.last_completion is not None
    assert stats.last_completion - stats.first_arrival >= latency


def test_max_in_flight_matches_the_client_limit_and_reset_clears_it() -> None:
    with serve_mock(MockConfig(latency=0.2)) as server:
        asyncio.run(_concurrent(server, 24, 6))
        assert server.stats().max_in_flight == 6
        records = server.records()
        assert len(records) == 24 and max(r.in_flight_at_arrival for r in records) == 6
        assert all(r.completion is not None and r.completion >= r.arrival for r in records)
        server.reset()
        assert server.stats().count == 0 and server.stats().max_in_flight == 0
        assert server.records() == []


def test_jitter_is_seeded_and_bounded() -> None:
    def latencies(seed: int) -> list[float]:
        with serve_mock(MockConfig(latency=0.01, jitter=0.05, seed=seed)) as server:
            for i in range(6):
                _post(server, _body(f"q{i}"))
            return [r.latency for r in server.records()]

    first = latencies(3)
    assert first == latencies(3) != latencies(4)
    assert all(0.01 <= value < 0.06 for value in first)


def _fault_server(kind: str, **options: Any) -> Any:
    return serve_mock(MockConfig(faults={kind: 1.0}, **options))


def test_fault_429_carries_retry_after() -> None:
    with _fault_server("429", retry_after=0.5) as server:
        response = _post(server, _body())
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "0.5"
        assert response.headers["retry-after-ms"] == "500"
        assert response.json()["error"]["type"] == "rate_limit_error"
        assert server.records()[0].fault == "429"


def test_fault_500() -> None:
    with _fault_server("500") as server:
        assert _post(server, _body()).status_code == 500
        assert server.stats().faults == {"500": 1}


def test_fault_reset_is_a_connection_error() -> None:
    with _fault_server("reset") as server:
        with pytest.raises(httpx.TransportError):
            _post(server, _body())
        with pytest.raises(openai.APIConnectionError):
            _client(server).chat.completions.create(model="tiny", messages=_body()["messages"])
        assert [r.outcome for r in server.records()] == ["fault", "fault"]


def test_fault_timeout_hangs_and_frees_its_slot_when_the_client_leaves() -> None:
    with _fault_server("timeout", hang_seconds=20) as server:
        with pytest.raises(httpx.ReadTimeout):
            _post(server, _body(), timeout=0.3)
        deadline = time.monotonic() + 10
        while server.stats().in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.stats().in_flight == 0
        assert server.records()[0].outcome == "disconnected"


@pytest.mark.parametrize("stream", [False, True])
def test_fault_truncate_breaks_the_body(stream: bool) -> None:
    with _fault_server("truncate") as server, pytest.raises(httpx.RemoteProtocolError):
        _post(server, _body(stream=stream))


def test_fault_malformed_body_does_not_parse() -> None:
    with _fault_server("malformed") as server:
        response = _post(server, _body())
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            response.json()


def test_fault_slow_stream_dribbles_the_events() -> None:
    with _fault_server("slow_stream", slow_seconds=0.8) as server:
        start = time.monotonic()
        plain = _post(server, _body())
        assert time.monotonic() - start >= 0.8
        assert plain.json()["choices"][0]["message"]["content"].endswith("</answer>")
        arrivals = []
        url = f"{server.base_url}/chat/completions"
        with HTTP.stream("POST", url, json=_body(stream=True)) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    arrivals.append(time.monotonic())
        assert len(arrivals) > 3 and arrivals[-1] - arrivals[0] >= 0.4


def _outcomes(config: MockConfig, order: list[int]) -> dict[int, list[int]]:
    """Status codes per question, three attempts each, sent in the given order."""
    statuses: dict[int, list[int]] = {}
    with serve_mock(config) as server:
        for i in order:
            statuses.setdefault(i, []).extend(
                _post(server, _body(f"question {i}")).status_code for _ in range(3)
            )
        decisions = [(r.body_sha256, r.attempt, r.fault) for r in server.records()]
    assert len(decisions) == 3 * len(order)
    return statuses


def test_seeded_faults_are_reproducible_whatever_the_order() -> None:
    config = MockConfig(seed=7, faults=parse_faults("429=0.3,500=0.3"))
    forward = _outcomes(config, list(range(12)))
    assert forward == _outcomes(config, list(reversed(range(12))))
    assert forward != _outcomes(MockConfig(seed=8, faults=config.faults), list(range(12)))
    codes = {code for codes in forward.values() for code in codes}
    assert codes == {200, 429, 500}


def test_first_attempts_fail_then_the_client_retries_to_success() -> None:
    config = MockConfig(fault_first_n=2, fault_first_kind="429", retry_after=0.05)
    with serve_mock(config) as server:
        reply = _client(server, retries=2).chat.completions.create(
            model="tiny", messages=_body()["messages"]
        )
        assert reply.choices[0].message.content
        assert [r.fault for r in server.records()] == ["429", "429", None]
        assert [r.attempt for r in server.records()] == [0, 1, 2]
        with pytest.raises(openai.RateLimitError):
            _client(server, retries=1).chat.completions.create(
                model="tiny", messages=_body("another question")["messages"]
            )


def test_fixed_and_callable_responders() -> None:
    with serve_mock(MockConfig(responder="fixed:<answer>C</answer>")) as server:
        assert _post(server, _body()).json()["choices"][0]["message"]["content"] == (
            "<answer>C</answer>"
        )
    with serve_mock(MockConfig(responder=lambda request: request["model"].upper())) as server:
        assert _post(server, _body()).json()["choices"][0]["message"]["content"] == "TINY"


def test_hook_responder_scripts_a_json_judge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "judge_hook.py").write_text(
        "import json\n"
        "def judge(request):\n"
        "    text = request['messages'][-1]['content']\n"
        "    return json.dumps({'findings': [w for w in text.split() if w.isupper()]})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with serve_mock(MockConfig(responder="judge_hook:judge")) as server:
        reply = _client(server).chat.completions.create(
            model="judge", messages=[{"role": "user", "content": "find EFFUSION and EDEMA"}]
        )
        assert json.loads(reply.choices[0].message.content or "") == {
            "findings": ["EFFUSION", "EDEMA"]
        }
    with (
        pytest.raises(ConfigError, match="cannot load"),
        serve_mock(MockConfig(responder="judge_hook:missing")),
    ):
        pass


def test_scripted_replies_by_substring_and_attempt(tmp_path: Path) -> None:
    script = tmp_path / "replies.jsonl"
    lines = [
        {"match": "effusion", "replies": ["{not json", '{"label": "supported"}']},
        {"match": "cardiomegaly", "reply": "enlarged heart"},
    ]
    script.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with serve_mock(MockConfig(responder=f"script:{script}")) as server:

        def content(text: str) -> Any:
            response = _post(server, _body(text))
            return response.json()["choices"][0]["message"]["content"], response.status_code

        assert content("pleural effusion?") == ("{not json", 200)
        assert content("pleural effusion?") == ('{"label": "supported"}', 200)
        assert content("pleural effusion?") == ('{"label": "supported"}', 200)
        assert content("cardiomegaly?") == ("enlarged heart", 200)
        response = _post(server, _body("pneumothorax?"))
        assert response.status_code == 400 and "script" in response.json()["error"]["message"]


def test_api_keys_are_never_recorded_or_logged(
    server: MockServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _client(server).chat.completions.create(model="tiny", messages=_body()["messages"])
    _post(server, _body(stream=True))
    seen = [
        HTTP.get(f"{server.url}/stats").text,
        HTTP.get(f"{server.url}/stats/records").text,
        caplog.text,
    ]
    assert "radrbench.dev.mock_openai" in caplog.text  # the decisions are logged
    assert all(SECRET not in text and "Bearer" not in text for text in seen)


def test_config_validation() -> None:
    assert parse_faults("429=0.05, reset=0.1") == {"429": 0.05, "reset": 0.1}
    for spec in ("429", "429=x"):
        with pytest.raises(ConfigError):
            parse_faults(spec)
    for faults in ({"teapot": 0.1}, {"429": 0.7, "500": 0.5}, {"500": -0.1}):
        with pytest.raises(ConfigError):
            MockConfig(faults=faults)
    with pytest.raises(ConfigError):
        MockConfig(hang_seconds=3600)
    with pytest.raises(ConfigError), serve_mock(MockConfig(responder="parrot")):
        pass
    with pytest.raises(ConfigError, match="process"):
        start_mock_process(MockConfig(responder=lambda request: ""))
    assert main(["--faults", "teapot=1"]) == 2
    config = MockConfig(latency=0.05, faults={"429": 0.1}, model="-odd", responder="fixed:x=1")
    assert config_from_args(build_parser().parse_args(config_to_argv(config))) == config


def test_process_mode_starts_serves_and_stops(tmp_path: Path) -> None:
    config = MockConfig(latency=0.01, seed=5, faults={"500": 0.5}, model="proc-model")
    log = tmp_path / "server.log"
    with start_mock_process(config, log_path=log) as server:
        assert [model.id for model in _client(server).models.list()] == ["proc-model"]
        statuses = [_post(server, _body(f"q{i}")).status_code for i in range(8)]
        stats = server.stats()
    assert server.process.returncode == 0
    assert {200, 500} <= set(statuses) and stats.count == 8 and stats.faults["500"] > 0
    with serve_mock(config) as local:  # the same seed decides the same way in-process
        assert [_post(local, _body(f"q{i}")).status_code for i in range(8)] == statuses
    text = log.read_text()
    assert "ready on http://127.0.0.1:" in text and "fault=500" in text and SECRET not in text
    with pytest.raises(httpx.ConnectError):
        HTTP.get(f"{server.url}/health", timeout=2)


def test_process_mode_reports_a_failed_start(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="exited"):
        start_mock_process(MockConfig(responder=f"script:{tmp_path / 'absent.jsonl'}"))

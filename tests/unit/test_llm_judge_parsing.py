"""The LLM judge's spec, prompt version, reply parsing and retry timing (no server)."""

from __future__ import annotations

import email.utils
import shutil
import time
from pathlib import Path

import pytest

from radrbench.errors import JudgeError
from radrbench.metrics.judges._llm_client import RetryPolicy, json_objects, retry_after
from radrbench.metrics.judges.llm import LLMJudge, LLMJudgeOptions, parse_spec, public_url
from radrbench.resources import resource_dir


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-unit")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_spec_parsing() -> None:
    assert parse_spec("openai:gpt-4o-2024-08-06") == ("gpt-4o-2024-08-06", None)
    assert parse_spec("openai:my-judge@http://127.0.0.1:8000/v1") == (
        "my-judge",
        "http://127.0.0.1:8000/v1",
    )
    for bad in ("openai:", "gpt-4o", "openai:m@ftp://x", "openai:m@"):
        with pytest.raises(JudgeError):
            parse_spec(bad)


def test_the_spec_records_the_base_url_without_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "https://user:secret@judge.example:8443/v1/?api-key=secret#x"
    assert public_url(url) == "https://judge.example:8443/v1"
    judge = LLMJudge.from_spec(f"openai:m@{url}")
    assert judge.spec == "openai:m@https://judge.example:8443/v1"
    assert LLMJudge.from_spec("openai:gpt-4o-2024-08-06").spec == "openai:gpt-4o-2024-08-06"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    assert LLMJudge.from_spec("openai:m").spec == "openai:m@http://127.0.0.1:9/v1"


def test_a_key_is_required_for_openai_but_not_for_a_local_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(JudgeError, match="OPENAI_API_KEY"):
        LLMJudge.from_spec("openai:gpt-4o-2024-08-06")
    assert LLMJudge.from_spec("openai:m@http://127.0.0.1:8000/v1").spec.startswith("openai:m@")


def test_the_version_follows_templates_and_sampling_settings(tmp_path: Path) -> None:
    shutil.copytree(resource_dir("metrics") / "prompts", tmp_path / "prompts")
    base = LLMJudge.from_spec("openai:m").version
    copied = LLMJudgeOptions(prompts_dir=tmp_path / "prompts")
    assert LLMJudge.from_spec("openai:m", copied).version == base
    assert LLMJudge.from_spec("openai:m", LLMJudgeOptions(seed=1)).version != base
    assert LLMJudge.from_spec("openai:m", LLMJudgeOptions(concurrency=2)).version == base
    template = tmp_path / "prompts" / "compare_findings.md"
    template.write_text(template.read_text().replace("Recall", "Recall (strictly)"))
    assert LLMJudge.from_spec("openai:m", copied).version != base


def test_a_broken_template_is_a_judge_error(tmp_path: Path) -> None:
    shutil.copytree(resource_dir("metrics") / "prompts", tmp_path / "prompts")
    (tmp_path / "prompts" / "label_steps.md").write_text("{% for step in chain %}")
    with pytest.raises(JudgeError, match=r"label_steps\.md"):
        LLMJudge.from_spec("openai:m", LLMJudgeOptions(prompts_dir=tmp_path / "prompts"))
    (tmp_path / "prompts" / "label_steps.md").unlink()
    with pytest.raises(JudgeError, match="cannot read prompt template"):
        LLMJudge.from_spec("openai:m", LLMJudgeOptions(prompts_dir=tmp_path / "prompts"))


def test_json_objects_are_found_in_prose_and_fences() -> None:
    text = 'Sure. Example: {"a": ...}\n```json\n{"findings": [{"x": {"y": 1}}]}\n```\n{"b": 2}'
    assert json_objects(text) == [{"findings": [{"x": {"y": 1}}]}, {"b": 2}]
    assert json_objects("no json {at all") == []
    assert len(json_objects("{}" * 1000)) == 64  # bounded


def test_retry_after_headers() -> None:
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({}) is None
    assert retry_after({"retry-after": "soon"}) is None
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (retry_after({"retry-after": date}) or 0) <= 30


def test_backoff_is_capped_and_honours_retry_after() -> None:
    policy = RetryPolicy(max_retries=5, backoff=0.5, max_delay=4.0)
    assert 0.25 <= policy.delay(0, None) <= 0.5
    assert 2.0 <= policy.delay(3, None) <= 4.0
    assert policy.delay(10, None) <= 4.0
    assert policy.delay(0, 3.0) == 3.0
    assert policy.delay(0, 100.0) == 4.0

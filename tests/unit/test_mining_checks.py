"""Checks of mined chains, the mining record that data validate reads, the prompt version."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from radrbench.data.benchmark import write_benchmark
from radrbench.data.validate import validate_benchmark
from radrbench.mining.checks import check_chain, reason_kind
from radrbench.mining.miner import LogEntry, apply_entry, read_log
from radrbench.mining.prompts import load_mining_prompts
from radrbench.mining.record import mining_problems
from tests.conftest import make_sample

SAMPLE = make_sample("s0", "img0.png", reasoning=None)
GOOD = [
    "The left costophrenic angle is blunted, consistent with a small left pleural effusion.",
    "There is no pneumothorax.",
    "Therefore, the image shows pleural effusion, so the answer is A) Yes.",
]


def test_a_supported_chain_reaching_the_answer_is_accepted() -> None:
    assert check_chain(SAMPLE, GOOD) == []


@pytest.mark.parametrize(
    ("steps", "kind"),
    [
        (["There is a large right pneumothorax.", *GOOD[2:]], "finding not in the report"),
        ([*GOOD[:2], "Therefore, the answer is B) No."], "wrong answer"),
        (GOOD[:2], "no answer"),
        ([GOOD[0], GOOD[0], GOOD[2]], "repeated step"),
        (["Does this chest X-ray show pleural effusion?", *GOOD], "question echoed"),
        (["Options: A) Yes B) No", *GOOD], "question echoed"),
        (["I will examine the lungs.", "So the answer is A) Yes."], "no finding stated"),
        (["lung lung the the of of heart heart the of", *GOOD], "noise"),
        ([], "empty chain"),
    ],
)
def test_bad_chains_are_rejected_with_their_reason(steps: list[str], kind: str) -> None:
    reasons = check_chain(SAMPLE, steps)
    assert kind in {reason_kind(reason) for reason in reasons}, reasons


def test_temporal_chains_may_state_the_prior_report() -> None:
    sample = make_sample(
        "t0",
        "cur.png",
        task="temporal",
        images=[{"path": "prior.png", "role": "prior"}, {"path": "cur.png"}],
        question="Identify the progression of pleural effusion.\nOptions:\nA) stable\n"
        "B) worsening\nC) improving",
        options={"A": "stable", "B": "worsening", "C": "improving"},
        answer="C",
        answer_text="improving",
        report="FINDINGS: Small left pleural effusion. No pneumothorax.",
        prior_report="FINDINGS: Large left pleural effusion and left basilar atelectasis.",
    )
    steps = [
        "On the prior image there was a large left pleural effusion with left basal atelectasis.",
        "On the current image the left pleural effusion is small.",
        "The effusion has decreased, so the answer is C) improving.",
    ]
    assert check_chain(sample, steps) == []


def _entry(steps: list[str]) -> LogEntry:
    return LogEntry(id="s0", llm="openai:m", prompts="v1", plan=["Look."], steps=steps)


def test_validate_knows_the_mined_fields(small_benchmark: Callable[[int], Path]) -> None:
    bench = small_benchmark(2)
    accepted = apply_entry(SAMPLE, _entry(GOOD))
    assert accepted.reasoning == GOOD and mining_problems(accepted) == []
    rejected = apply_entry(SAMPLE, _entry(GOOD[:2]))
    assert rejected.reasoning is None
    assert rejected.meta["mining"]["reasons"] == ["the chain does not reach an answer"]
    tampered = accepted.model_copy(update={"reasoning": ["There is a large pneumothorax."]})
    no_reason = rejected.model_copy(
        update={"meta": {"mining": {**rejected.meta["mining"], "reasons": []}}}
    )
    broken = accepted.model_copy(update={"meta": {"mining": {"llm": "x"}}})
    samples = [
        s.model_copy(update={"id": f"s{i}", "images": SAMPLE.images})
        for i, s in enumerate([accepted, rejected, tampered, no_reason, broken])
    ]
    write_benchmark(bench, samples, name="mined", version="0")
    problems = [p.message for p in validate_benchmark(bench).problems]
    assert len(problems) == 4, problems
    assert problems[0].startswith("mined chain: ") and "not supported by the report" in problems[0]
    assert problems[1] == "mined chain: the chain does not reach an answer"
    assert "must say why" in problems[2]
    assert problems[3] == "field meta.mining.prompts: Field required"


def test_the_log_resumes_only_the_same_llm_and_prompts(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    same = _entry(GOOD)
    other = same.model_copy(update={"id": "s1", "prompts": "v2"})
    log.write_text(f'{same.model_dump_json()}\n{other.model_dump_json()}\n{{"id": "torn')
    assert list(read_log(log, "openai:m", "v1")) == ["s0"]


def test_prompt_version_follows_templates_and_settings(tmp_path: Path) -> None:
    base = load_mining_prompts(None, {"seed": 0})
    assert load_mining_prompts(None, {"seed": 1}).version != base.version
    for path in (Path(__file__).parents[2] / "metrics/prompts/mining").glob("*.md"):
        (tmp_path / path.name).write_text(path.read_text() + "\n")
    assert load_mining_prompts(tmp_path, {"seed": 0}).version != base.version
    rendered = base.messages(
        "reason", question="Q?", answer="A) Yes", plan=["p"], report="R.", prior_report=None
    )
    assert "<report>\nR.\n</report>" in rendered[1]["content"]  # type: ignore[operator]
    assert json.dumps(base.response_format("plan")["json_schema"]["schema"])  # type: ignore[typeddict-item]

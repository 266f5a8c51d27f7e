"""Text that states nothing: sentence shapes as data, repeats, echoes, and the judge on them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from radrbench.metrics.judges._degenerate import noise, noise_sentences
from radrbench.metrics.judges._lexicon import load_lexicon
from radrbench.metrics.judges._text import sentences
from radrbench.metrics.judges.base import StepJudgment
from radrbench.metrics.judges.offline import OfflineJudge
from radrbench.metrics.radrscore import distinct_steps, score_reasoning, strip_echo

CASES = Path(__file__).resolve().parents[1] / "data" / "degenerate" / "sentences.jsonl"
CHAIN = [
    "The cardiac silhouette is enlarged, consistent with moderate cardiomegaly.",
    "Both costophrenic angles are sharp, so there is no pleural effusion.",
    "No pneumothorax is seen.",
]
REPORT = "FINDINGS: Moderate cardiomegaly. No pleural effusion or pneumothorax."
PROMPT = "Does this chest X-ray show cardiomegaly?\nOptions:\nA) Yes\nB) No"


def _cases() -> list[Any]:
    lines = CASES.read_text(encoding="utf-8").splitlines()
    return [pytest.param(json.loads(line), id=json.loads(line)["shape"]) for line in lines if line]


@pytest.mark.parametrize("case", _cases())
def test_sentence_shapes(case: dict[str, Any]) -> None:
    lexicon = load_lexicon()
    flagged = noise_sentences(sentences(case["text"]), lexicon)
    assert bool(flagged) == case["noise"], [noise(s.text, lexicon) for s in sentences(case["text"])]


def test_salad_pieces_that_look_like_fragments_are_noise_by_context() -> None:
    text = "Effusion the is middle are moderate. Edema. Of inspiration the no lobe the."
    assert noise_sentences(sentences(text), load_lexicon()) == {0, 1, 2}


def test_real_sentence_beside_a_loop_is_kept() -> None:
    text = (
        "There is moderate cardiomegaly with a cardiothoracic ratio of 0.6.\n\n"
        "cent left cent left cent left cent left"
    )
    assert noise_sentences(sentences(text), load_lexicon()) == {1}


def score(output: str) -> Any:
    return asyncio.run(
        score_reasoning(
            OfflineJudge(), sample_id="s", output=output, chain=CHAIN, report=REPORT, prompt=PROMPT
        )
    )


@pytest.mark.parametrize(
    "reasoning",
    [
        "Does this chest X-ray show cardiomegaly?\nOptions:\nA) Yes\nB) No",
        "Let's think step by step. Enclose the reasoning within and the answer within.",
        "I will examine the lungs, heart and bones. Let me analyze the image systematically.",
        "Silhouette no the enlarged cardiomegaly is sharp effusion. Angles so consistent the "
        "moderate there pleural with both.",
    ],
    ids=["question echoed", "instructions echoed", "boilerplate", "word salad"],
)
def test_text_that_states_nothing_scores_zero(reasoning: str) -> None:
    result = score(f"<think>{reasoning}</think><answer>A</answer>")
    assert (result.factuality, result.completeness, result.effectiveness) == (0.0, 0.0, 0.0)
    assert not result.model_findings


def test_repeating_a_sentence_counts_once() -> None:
    once = score(f"<think>{CHAIN[0]}</think>")
    assert once.effectiveness == 1.0
    for repeated in (
        " ".join([CHAIN[0]] * 8),
        "\n".join([CHAIN[0], "Moderate cardiomegaly is seen."] * 4),
    ):
        result = score(f"<think>{repeated}</think>")
        assert len(result.steps) <= 2
        for name in ("factuality", "completeness", "effectiveness"):
            assert getattr(result, name) <= getattr(once, name)


def test_repeats_do_not_hide_unsupported_steps() -> None:
    result = score(f"<think>{CHAIN[0]} There is a large right pneumothorax. {CHAIN[0]}</think>")
    assert [s.label for s in result.steps] == ["supported", "contradicted"]


def test_strip_echo_keeps_the_models_own_words() -> None:
    reasoning = (
        "Does this chest X-ray show cardiomegaly?\nA) Yes\nThe heart is enlarged.\n"
        "So the answer is yes."
    )
    assert strip_echo(reasoning, PROMPT) == "The heart is enlarged.\nSo the answer is yes."


def test_strip_echo_drops_option_runs_without_the_prompt() -> None:
    reasoning = "A) atelectasis\nB) cardiomegaly\nC) pleural effusion\nThe heart is large."
    assert strip_echo(reasoning) == "The heart is large."
    assert strip_echo("A) The heart is large.\nB) So cardiomegaly.") == (
        "A) The heart is large.\nB) So cardiomegaly."
    )


def test_distinct_steps_keeps_word_for_word_repeats_once() -> None:
    steps = [
        StepJudgment(text="The heart is enlarged.", label="supported"),
        StepJudgment(text="the heart is enlarged", label="supported"),
        StepJudgment(text="No effusion.", label="supported"),
    ]
    assert [s.text for s in distinct_steps(steps)] == ["The heart is enlarged.", "No effusion."]

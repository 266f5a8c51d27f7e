"""Adversarial suite: can degenerate reasoning fool a judge's RadRScore?

From real IU X-ray reports (their FINDINGS sentences are the reference chain, as in the
validity suite) and from phantom chains (Open-i-like and archive-style reports), it builds
degenerate reasoning and scores it against the true chain:

- text that states no finding: word salad of the chain's own words (as sentences, and as
  raw tokens with their punctuation), a decoding loop of word fragments, the question
  echoed, the option list echoed, the prompt's instructions, generic boilerplate, and the
  empty output;
- repetition: one correct sentence on its own, repeated eight times, and repeated with its
  paraphrase;
- claims about every CheXpert finding: all absent, all present, all hedged;
- the true chain, for comparison.

Bounds (checked by ``AdversarialReport.bounds``, asserted in CI): text that states no
finding scores at most 0.05 on each sub-score; repetition scores no higher than the single
sentence; "every finding present" factuality at most 0.5. "Every finding absent" keeps a
high factuality by the protocol's own rule (a finding the report does not mention counts as
correct when called absent): the suite reports it, and the training reward guards against
it.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from radrbench.data.schema import CHEXPERT_LABELS
from radrbench.metrics.iu_xray import load_reports
from radrbench.metrics.judges.base import Judge, JudgeInfo
from radrbench.metrics.radrscore import SUB_SCORES, ReferenceCache, SampleScore, score_reasoning
from radrbench.metrics.validity import paraphrase, split_sentences
from radrbench.tasks.prompts import REASONING_SUFFIX

NO_FINDING_LIMIT = 0.05
ALL_PRESENT_FACTUALITY_LIMIT = 0.5
REPEATS = 8

FINDINGS = tuple(label.lower() for label in CHEXPERT_LABELS if label != "No Finding")
_BOILERPLATE = (
    "I will examine the lungs, heart and bones.",
    "Let me analyze this chest X-ray systematically.",
    "First, I will assess the image quality and then review each region of the chest.",
    "I will look at the chest X-ray carefully before answering the question.",
    "A systematic approach covers the airway, breathing, circulation, diaphragm and everything "
    "else.",
    "Let's evaluate the radiograph step by step.",
)
_WORD = re.compile(r"[A-Za-z0-9-]+")


@dataclass(frozen=True)
class Reference:
    """One reference to build variants from: chain, report and the prompt the model saw."""

    source: str
    case_id: str
    chain: tuple[str, ...]
    report: str
    prompt: str
    options: dict[str, str]


@dataclass(frozen=True)
class Variant:
    """A kind of degenerate reasoning: its group decides which bound applies."""

    name: str
    group: str  # reference, no_finding, repetition, claims
    build: Callable[[Reference, random.Random, str], str]


def _salad(reference: Reference, rng: random.Random, _: str) -> str:
    """The chain's words shuffled, written as sentences of the chain's sentence lengths."""
    sentences = [_WORD.findall(step) for step in reference.chain]
    words = [word.lower() for sentence in sentences for word in sentence]
    rng.shuffle(words)
    out, start = [], 0
    for sentence in sentences:
        chunk = words[start : start + len(sentence)]
        start += len(sentence)
        if chunk:
            text = " ".join(chunk)
            out.append(text[0].upper() + text[1:] + ".")
    return " ".join(out)


def _raw_salad(reference: Reference, rng: random.Random, _: str) -> str:
    """The chain's whitespace tokens (with their punctuation and case) shuffled."""
    tokens = " ".join(reference.chain).split()
    rng.shuffle(tokens)
    return " ".join(tokens)


def _fragment_loop(reference: Reference, rng: random.Random, _: str) -> str:
    """A decoding loop of word fragments, as a broken model writes it."""
    words = [w for w in _WORD.findall(" ".join(reference.chain)) if len(w) > 4]
    picked = rng.sample(words, min(3, len(words))) or ["heart"]
    pieces = [w[: max(3, int(len(w) * 0.7))].lower() for w in picked]
    stutter = pieces[0] + pieces[0][:2].capitalize() * 3
    loop = " ".join(pieces[1:] or pieces)
    return f"{pieces[0]} {stutter} " + " ".join([loop] * 5) + f" patient this {loop}"


def _question(reference: Reference, _: random.Random, __: str) -> str:
    return reference.prompt


def _options(reference: Reference, _: random.Random, __: str) -> str:
    return "Options:\n" + "\n".join(f"{k}) {v}" for k, v in reference.options.items())


def _instructions(_: Reference, __: random.Random, ___: str) -> str:
    return REASONING_SUFFIX.replace("<think></think>", "").replace("<answer></answer>", "")


def _boilerplate(_: Reference, rng: random.Random, __: str) -> str:
    return " ".join(rng.sample(_BOILERPLATE, 3))


def _empty(_: Reference, __: random.Random, ___: str) -> str:
    return ""


def _true_chain(reference: Reference, _: random.Random, __: str) -> str:
    return "\n".join(reference.chain)


def _single(_: Reference, __: random.Random, sentence: str) -> str:
    return sentence


def _repeated(_: Reference, __: random.Random, sentence: str) -> str:
    return " ".join([sentence] * REPEATS)


def _repeated_paraphrase(_: Reference, __: random.Random, sentence: str) -> str:
    return " ".join([sentence, paraphrase(sentence)] * (REPEATS // 2))


def _all_absent(_: Reference, __: random.Random, ___: str) -> str:
    return " ".join(f"There is no {finding}." for finding in FINDINGS)


def _all_present(_: Reference, __: random.Random, ___: str) -> str:
    return " ".join(f"There is {finding}." for finding in FINDINGS)


def _hedge_all(_: Reference, __: random.Random, ___: str) -> str:
    groups = [FINDINGS[i : i + 3] for i in range(0, len(FINDINGS), 3)]
    return " ".join(
        f"The appearance may represent {' or '.join(group)}." for group in groups if group
    )


VARIANTS: tuple[Variant, ...] = (
    Variant("true chain", "reference", _true_chain),
    Variant("word salad", "no_finding", _salad),
    Variant("word salad (raw tokens)", "no_finding", _raw_salad),
    Variant("fragments and loop", "no_finding", _fragment_loop),
    Variant("question echoed", "no_finding", _question),
    Variant("options echoed", "no_finding", _options),
    Variant("instructions echoed", "no_finding", _instructions),
    Variant("boilerplate", "no_finding", _boilerplate),
    Variant("empty output", "no_finding", _empty),
    Variant("one correct sentence", "repetition", _single),
    Variant(f"sentence x{REPEATS}", "repetition", _repeated),
    Variant(f"sentence + paraphrase x{REPEATS // 2}", "repetition", _repeated_paraphrase),
    Variant("every finding absent", "claims", _all_absent),
    Variant("every finding present", "claims", _all_present),
    Variant("every finding hedged", "claims", _hedge_all),
)
SINGLE = "one correct sentence"
ALL_PRESENT = "every finding present"


class VariantScores(BaseModel):
    """Mean sub-scores of one variant on one source (judge failures excluded, counted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    variant: str
    group: str
    n: int
    failed: int
    factuality: float | None
    completeness: float | None
    effectiveness: float | None
    above_single: int = 0
    """Repetition variants: cases where a sub-score beats the single sentence's."""


class Bound(BaseModel):
    """One bound of the suite and whether the judge meets it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    variant: str
    rule: str
    value: float | None
    met: bool


class AdversarialReport(BaseModel):
    """Scores per source and variant, and the bounds checked on them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: JudgeInfo
    seed: int
    cases: dict[str, int]
    scores: dict[str, list[VariantScores]]
    bounds: list[Bound]

    @property
    def met(self) -> bool:
        return all(bound.met for bound in self.bounds)


def iu_references(n: int, rng: random.Random) -> list[Reference]:
    """IU X-ray reports whose FINDINGS have at least three sentences; each gets a binary
    question about a CheXpert finding, as the prompt to echo."""
    reports = load_reports()
    rng.shuffle(reports)
    out: list[Reference] = []
    for report in reports:
        chain = split_sentences(report.findings)
        if len(chain) < 3:
            continue
        finding = FINDINGS[len(out) % len(FINDINGS)]
        options = {"A": "Yes", "B": "No"}
        prompt = f"Does this chest X-ray show {finding}?\nOptions:\nA) Yes\nB) No"
        out.append(
            Reference("iu-xray", report.report_id, tuple(chain), report.text, prompt, options)
        )
        if len(out) >= n:
            break
    return out


def phantom_references(style: str, n: int, seed: int) -> list[Reference]:
    """Phantom studies' chains and reports in one report style (``openi`` or ``archive``)."""
    from radrbench.data.phantom.cases import phantom_cases

    return [
        Reference(
            f"phantom-{style}",
            case.id,
            case.chain,
            case.report,
            case.question,
            dict(case.options or {}),
        )
        for case in phantom_cases(style, n=n, seed=seed)  # type: ignore[arg-type]
        if case.chain and case.options
    ]


async def run_adversarial_suite(
    judge: Judge, n: int = 60, seed: int = 0, *, concurrency: int = 16
) -> AdversarialReport:
    """Score every degenerate variant of ``n`` references per source with ``judge``."""
    rng = random.Random(seed)
    sources = {
        "iu-xray": iu_references(n, rng),
        "phantom-openi": phantom_references("openi", n, seed),
        "phantom-archive": phantom_references("archive", n, seed),
    }
    limit = asyncio.Semaphore(concurrency)
    references = ReferenceCache()

    async def score(reference: Reference, variant: Variant, text: str) -> SampleScore:
        async with limit:
            return await score_reasoning(
                judge,
                sample_id=f"{reference.case_id}/{variant.name}",
                output=f"<think>{text}</think><answer>A</answer>",
                chain=reference.chain,
                report=reference.report,
                references=references,
                prompt=reference.prompt,
            )

    scores: dict[str, list[VariantScores]] = {}
    bounds: list[Bound] = []
    for source, refs in sources.items():
        sentences = [await _correct_sentence(judge, ref) for ref in refs]
        texts = [
            [
                variant.build(ref, random.Random(f"{seed}/{ref.case_id}"), sentence)
                for variant in VARIANTS
            ]
            for ref, sentence in zip(refs, sentences, strict=True)
        ]
        table = await asyncio.gather(
            *(
                asyncio.gather(
                    *(
                        score(ref, variant, text)
                        for variant, text in zip(VARIANTS, row, strict=True)
                    )
                )
                for ref, row in zip(refs, texts, strict=True)
            )
        )
        scores[source] = _summaries(table)
        bounds += _bounds(source, scores[source])
    return AdversarialReport(
        judge=judge.info,
        seed=seed,
        cases={source: len(refs) for source, refs in sources.items()},
        scores=scores,
        bounds=bounds,
    )


async def _correct_sentence(judge: Judge, reference: Reference) -> str:
    """The chain's first sentence that states a finding (else its first sentence)."""
    for step in reference.chain:
        for sentence in split_sentences(step) or [step]:
            if await judge.extract_findings(sentence):
                return sentence
    return reference.chain[0]


def _summaries(table: Sequence[Sequence[SampleScore]]) -> list[VariantScores]:
    out: list[VariantScores] = []
    single = [row[_index(SINGLE)] for row in table]
    for column, variant in enumerate(VARIANTS):
        cells = [row[column] for row in table]
        means: dict[str, float | None] = {}
        failed = 0
        for name in SUB_SCORES:
            values = [getattr(cell, name) for cell in cells]
            valid = [v for v in values if v is not None]
            failed = max(failed, len(values) - len(valid))
            means[name] = sum(valid) / len(valid) if valid else None
        above = 0
        if variant.group == "repetition" and variant.name != SINGLE:
            above = sum(
                any(
                    (getattr(cell, name) or 0.0) > (getattr(base, name) or 0.0) + 1e-9
                    for name in SUB_SCORES
                )
                for cell, base in zip(cells, single, strict=True)
            )
        out.append(
            VariantScores(
                variant=variant.name,
                group=variant.group,
                n=len(cells),
                failed=failed,
                above_single=above,
                **means,
            )
        )
    return out


def _index(name: str) -> int:
    return next(i for i, variant in enumerate(VARIANTS) if variant.name == name)


def _bounds(source: str, rows: Sequence[VariantScores]) -> list[Bound]:
    bounds: list[Bound] = []
    for row in rows:
        if row.group == "no_finding":
            worst = max((getattr(row, name) or 0.0) for name in SUB_SCORES)
            bounds.append(
                Bound(
                    source=source,
                    variant=row.variant,
                    rule=f"each sub-score <= {NO_FINDING_LIMIT}",
                    value=worst,
                    met=worst <= NO_FINDING_LIMIT,
                )
            )
        elif row.group == "repetition" and row.variant != SINGLE:
            bounds.append(
                Bound(
                    source=source,
                    variant=row.variant,
                    rule="not above the single sentence",
                    value=float(row.above_single),
                    met=row.above_single == 0,
                )
            )
        elif row.variant == ALL_PRESENT:
            value = row.factuality
            bounds.append(
                Bound(
                    source=source,
                    variant=row.variant,
                    rule=f"factuality <= {ALL_PRESENT_FACTUALITY_LIMIT}",
                    value=value,
                    met=value is not None and value <= ALL_PRESENT_FACTUALITY_LIMIT,
                )
            )
    return bounds

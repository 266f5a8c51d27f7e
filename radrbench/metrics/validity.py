"""Metric-validity suite: does a judge's RadRScore move the right way under controlled edits?

From real IU X-ray reports (read from the installed torchxrayvision package), the
sentences of each report's FINDINGS become the reference chain (the whole report stays the
report) and the model's reasoning starts as the same sentences. Controlled variants of
that reasoning must score lower on one sub-score:

- drop k finding sentences (k = 1, 2): completeness must fall;
- flip the status of one finding ("no effusion" <-> "there is effusion"): factuality must
  fall;
- add an unsupported claim, or an irrelevant remark: effectiveness must fall;

and a paraphrase with synonyms must keep every sub-score within 0.1. The report gives, per
sub-score, the share of pairs ordered correctly (ties count as wrong) and the paraphrase
stability. Judge failures are excluded and counted.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from radrbench.metrics.iu_xray import IUReport, load_reports
from radrbench.metrics.judges.base import Judge, JudgeInfo
from radrbench.metrics.radrscore import SUB_SCORES, ReferenceCache, SampleScore, score_reasoning

STABILITY_TOLERANCE = 0.1

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_PARAPHRASES = {
    "pleural effusions": "pleural fluid collections",
    "pleural effusion": "pleural fluid collection",
    "cardiomegaly": "cardiac enlargement",
    "heart size": "cardiac size",
    "cardiac silhouette": "heart silhouette",
    "the heart": "the cardiac silhouette",
    "lungs are clear": "lung fields are clear",
    "within normal limits": "normal",
    "no evidence of": "no sign of",
    "focal consolidation": "focal airspace consolidation",
    "airspace disease": "airspace opacity",
    "atelectasis": "atelectatic change",
    "opacities": "opacifications",
    "opacity": "opacification",
    "degenerative changes": "degenerative disease",
    "unremarkable": "normal",
    "osseous structures": "bony structures",
    "mediastinal contours": "mediastinal silhouette",
    "hyperinflated": "hyperexpanded",
    "acute cardiopulmonary abnormality": "acute cardiopulmonary disease",
}
_PARAPHRASE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_PARAPHRASES, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
# Claims added to the reasoning, each with the words that, in a report, would support it.
_UNSUPPORTED = (
    ("There is a large right pneumothorax.", ("pneumothora",)),
    ("A displaced fracture of the left clavicle is seen.", ("fracture", "clavic")),
    ("There is a large hiatal hernia.", ("hernia",)),
    ("A mass is present in the right upper lobe.", ("mass", "nodul", "upper lobe")),
    ("Bilateral pleural effusions are present.", ("effusion",)),
    ("There is dense consolidation of the left lower lobe.", ("consolidat", "opaci", "airspace")),
)
_IRRELEVANT = (
    "The radiograph was obtained as part of a routine visit.",
    "Chest radiographs are a common first imaging test.",
    "The film is labelled with the patient's position.",
)
_ABNORMAL = {
    "heart": "The heart is enlarged.",
    "heart size": "The heart is enlarged.",
    "cardiac silhouette": "The heart is enlarged.",
    "lungs": "The lungs show a focal consolidation.",
    "lung fields": "The lungs show a focal consolidation.",
    "mediastinum": "The mediastinum is widened.",
    "mediastinal contours": "The mediastinum is widened.",
    "cardiomediastinal silhouette": "The cardiomediastinal silhouette is enlarged.",
    "costophrenic angles": "The costophrenic angles are blunted.",
    "pulmonary vasculature": "The pulmonary vasculature is congested.",
}
_FLIPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^(?:there (?:is|are) )?no (?:evidence of )?(?P<rest>.+?)\.?$", re.I),
        "There is {rest}.",
    ),
    (
        re.compile(r"^(?P<subj>.+?) (?P<verb>is|are) not (?P<rest>.+?)\.?$", re.I),
        "{subj} {verb} {rest}.",
    ),
    (
        re.compile(r"^there (?:is|are) (?:an? )?(?P<rest>(?!no\b).+?)\.?$", re.I),
        "There is no {rest}.",
    ),
    (
        re.compile(r"^(?P<subj>.+?) (?:is|are) (?:present|seen|noted|identified)\.?$", re.I),
        "No {subj} is seen.",
    ),
)
_NORMAL = re.compile(
    r"^(?:the )?(?P<subj>" + "|".join(sorted(_ABNORMAL, key=len, reverse=True)) + r")"
    r" (?:is|are) (?:normal|clear|within normal limits|unremarkable)\b",
    re.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """Report sentences (at least two words each)."""
    return [s.strip() for s in _SENTENCE.split(text) if len(s.split()) >= 2]


def paraphrase(text: str) -> str:
    """Replace radiology phrases with synonyms."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        new = _PARAPHRASES[word.lower()]
        return new[0].upper() + new[1:] if word[0].isupper() else new

    return _PARAPHRASE.sub(swap, text)


def flip(sentence: str) -> str | None:
    """The sentence with its finding's status reversed, when a rule applies."""
    normal = _NORMAL.match(sentence)
    if normal:
        return _ABNORMAL[normal.group("subj").lower()]
    for pattern, template in _FLIPS:
        match = pattern.match(sentence.strip())
        if match:
            parts = {k: v.strip() for k, v in match.groupdict().items()}
            return template.format(**parts)
    return None


def unsupported_claim(report: str, rng: random.Random) -> str:
    """A claim that the report does not support (its words are absent from the report)."""
    lower = report.lower()
    choices = [claim for claim, words in _UNSUPPORTED if not any(w in lower for w in words)]
    return rng.choice(choices or [_UNSUPPORTED[0][0]])


@dataclass(frozen=True)
class _Case:
    """One report's reference and the reasoning variants built from it."""

    report_id: str
    chain: tuple[str, ...]
    report: str
    variants: dict[str, str]


class Ordering(BaseModel):
    """How often a sub-score ordered its controlled pairs correctly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pairs: int
    correct: int
    failed: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.pairs if self.pairs else None


class ValidityReport(BaseModel):
    """Ordering accuracy per sub-score and paraphrase stability per sub-score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: JudgeInfo
    n_reports: int
    seed: int
    ordering: dict[str, Ordering]
    paraphrase_stability: dict[str, float | None]
    paraphrase_pairs: int


# Which sub-score each variant must lower, relative to which other variant.
_PAIRS = (
    ("completeness", "base", "drop1"),
    ("completeness", "base", "drop2"),
    ("completeness", "drop1", "drop2"),
    ("factuality", "base", "flip"),
    ("effectiveness", "base", "unsupported"),
    ("effectiveness", "base", "irrelevant"),
)


async def run_validity_suite(
    judge: Judge, n_reports: int = 200, seed: int = 0, *, concurrency: int = 16
) -> ValidityReport:
    """Build controlled variants from ``n_reports`` IU X-ray reports and check the judge."""
    rng = random.Random(seed)
    reports = load_reports()
    rng.shuffle(reports)
    limit = asyncio.Semaphore(concurrency)
    cases: list[_Case] = []
    for report in reports:
        if len(cases) >= n_reports:
            break
        case = await _case(judge, report, rng, limit)
        if case is not None:
            cases.append(case)
    references = ReferenceCache()

    async def score(case: _Case, name: str) -> SampleScore:
        async with limit:
            return await score_reasoning(
                judge,
                sample_id=f"{case.report_id}/{name}",
                output=case.variants[name],
                chain=case.chain,
                report=case.report,
                references=references,
            )

    scored = await asyncio.gather(
        *(asyncio.gather(*(score(case, name) for name in case.variants)) for case in cases)
    )
    tables = [
        dict(zip(case.variants, scores, strict=True))
        for case, scores in zip(cases, scored, strict=True)
    ]
    return ValidityReport(
        judge=judge.info,
        n_reports=len(cases),
        seed=seed,
        ordering={name: _ordering(tables, name) for name in SUB_SCORES},
        paraphrase_stability={name: _stability(tables, name) for name in SUB_SCORES},
        paraphrase_pairs=sum("paraphrase" in t for t in tables),
    )


async def _case(
    judge: Judge, report: IUReport, rng: random.Random, limit: asyncio.Semaphore
) -> _Case | None:
    chain = split_sentences(report.findings)
    if len(chain) < 3:
        return None

    async def has_finding(sentence: str) -> bool:
        async with limit:
            return bool(await judge.extract_findings(sentence))

    flags = await asyncio.gather(*(has_finding(s) for s in chain))
    with_findings = [i for i, flag in enumerate(flags) if flag]
    if len(with_findings) < 3:
        return None
    dropped = rng.sample(with_findings, 2)
    flippable = [(i, f) for i in with_findings if (f := flip(chain[i])) is not None]
    variants = {
        "base": "\n".join(chain),
        "drop1": _join(chain, drop=frozenset(dropped[:1])),
        "drop2": _join(chain, drop=frozenset(dropped)),
        "unsupported": "\n".join([*chain, unsupported_claim(report.text, rng)]),
        "irrelevant": "\n".join([*chain, rng.choice(_IRRELEVANT)]),
        "paraphrase": "\n".join(paraphrase(s) for s in chain),
    }
    if flippable:
        index, flipped = rng.choice(flippable)
        variants["flip"] = _join(chain, replace={index: flipped})
    return _Case(report.report_id, tuple(chain), report.text, variants)


def _join(
    chain: Sequence[str],
    drop: frozenset[int] = frozenset(),
    replace: dict[int, str] | None = None,
) -> str:
    replace = replace or {}
    return "\n".join(replace.get(i, s) for i, s in enumerate(chain) if i not in drop)


def _ordering(tables: Sequence[dict[str, SampleScore]], name: str) -> Ordering:
    pairs = correct = failed = 0
    for table in tables:
        for sub_score, better, worse in _PAIRS:
            if sub_score != name or better not in table or worse not in table:
                continue
            high, low = getattr(table[better], name), getattr(table[worse], name)
            if high is None or low is None:
                failed += 1
                continue
            pairs += 1
            correct += high > low
    return Ordering(pairs=pairs, correct=correct, failed=failed)


def _stability(tables: Sequence[dict[str, SampleScore]], name: str) -> float | None:
    within = [
        abs(a - b) <= STABILITY_TOLERANCE
        for table in tables
        if "paraphrase" in table
        for a, b in [(getattr(table["base"], name), getattr(table["paraphrase"], name))]
        if a is not None and b is not None
    ]
    return sum(within) / len(within) if within else None

"""Metric-validity suite: does a judge's RadRScore move the right way under controlled edits?

Two kinds of source, each reported on its own:

- ``iu-xray``: real IU X-ray reports (read from the installed torchxrayvision package). The
  sentences of each report's FINDINGS become the reference chain (the whole report stays the
  report) and the model's reasoning starts as the same sentences.
- ``phantom-archive`` (and ``phantom-openi``): phantom studies written in the style of large
  hospital archives (MIMIC-CXR/CheXpert-like: headings, ``___`` blanks, comparisons with the
  prior, tubes and lines, hedges, terse fragments; see ``radrbench.data.phantom.archive``).
  The reference is the phantom's reasoning chain and report, and the model's reasoning starts
  as the chain. Every sentence carries its claims, so the variants are built from the truth
  rather than by pattern: a flip states the opposite of what the step's claims say
  ("ET tube in standard position" becomes "No lines or tubes."; "Unchanged moderate left
  pleural effusion" becomes "No pleural effusion.").

Controlled variants of that reasoning must score lower on one sub-score:

- drop findings (one, then two; for phantom chains every step stating the finding): completeness
  must fall;
- flip the status of one finding ("no effusion" <-> "there is effusion"): factuality must
  fall;
- add an unsupported claim, or an irrelevant remark: effectiveness must fall;

and a paraphrase with synonyms must keep every sub-score within 0.1. The report gives, per
source and sub-score, the share of pairs ordered correctly (ties count as wrong) and the
paraphrase stability. Judge failures are excluded and counted.

For phantom sources it also checks the judge's extraction against the truth directly
(``truth_extraction``): the share of the report's findings the judge extracts with the right
status, and the share of its extractions that the report does not state.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from radrbench.data.phantom.cases import PhantomCase, phantom_cases
from radrbench.data.phantom.claims import Claim
from radrbench.errors import ConfigError
from radrbench.metrics.iu_xray import IUReport, load_reports
from radrbench.metrics.judges.base import Finding, Judge, JudgeInfo
from radrbench.metrics.label_synonyms import synonyms
from radrbench.metrics.radrscore import SUB_SCORES, ReferenceCache, SampleScore, score_reasoning

STABILITY_TOLERANCE = 0.1
ValiditySource = Literal["iu-xray", "phantom-archive", "phantom-openi"]
SOURCES: tuple[str, ...] = get_args(ValiditySource)
DEFAULT_SOURCES: tuple[ValiditySource, ...] = ("iu-xray", "phantom-archive")
_PHANTOM_STYLES: dict[str, Literal["archive", "openi"]] = {
    "phantom-archive": "archive",
    "phantom-openi": "openi",
}

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
# Archive-style phrases and their synonyms (added to the table above for phantom sources).
_ARCHIVE_PARAPHRASES = {
    "et tube": "endotracheal tube",
    "ett": "endotracheal tube",
    "ng tube": "nasogastric tube",
    "ij": "internal jugular",
    "svc": "superior vena cava",
    "pacer": "pacemaker",
    "terminates": "ends",
    "in standard position": "in appropriate position",
    "unchanged": "stable",
    "is again seen": "is again noted",
    "is no longer seen": "is no longer visible",
    "has resolved": "is resolved",
    "has improved": "is improved",
    "slightly increased": "mildly increased",
    "likely": "probably",
    "may reflect": "may represent",
    "cannot be excluded": "cannot be ruled out",
    "concerning for": "suspicious for",
    "basilar": "basal",
    "apical pneumothorax": "pneumothorax at the apex",
}


def _table_pattern(table: Mapping[str, str]) -> re.Pattern[str]:
    words = sorted(table, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(k) for k in words) + r")\b", re.IGNORECASE)


_PARAPHRASE = _table_pattern(_PARAPHRASES)
_ARCHIVE_TABLE = _PARAPHRASES | _ARCHIVE_PARAPHRASES
_ARCHIVE_PARAPHRASE = _table_pattern(_ARCHIVE_TABLE)
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
        re.compile(
            r"^no (?P<rest>.+?) (?:is|are) (?:seen|identified|noted|present|visualized|evident)"
            r"\.?$",
            re.I,
        ),
        "There is {rest}.",
    ),
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


def paraphrase(text: str, *, archive: bool = False) -> str:
    """Replace radiology phrases with synonyms (``archive``: archive-style phrases too)."""
    table = _ARCHIVE_TABLE if archive else _PARAPHRASES
    pattern = _ARCHIVE_PARAPHRASE if archive else _PARAPHRASE

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        new = table[word.lower()]
        return new[0].upper() + new[1:] if word[0].isupper() else new

    return pattern.sub(swap, text)


def flip(sentence: str) -> str | None:
    """The sentence with its finding's status reversed, when a rule applies."""
    normal = _NORMAL.match(sentence)
    if normal:
        return _ABNORMAL[normal.group("subj").lower()]
    for pattern, template in _FLIPS:
        match = pattern.match(sentence.strip())
        if match:
            parts = {k: v.strip() for k, v in match.groupdict().items()}
            if not template.startswith("{"):  # the phrase moves inside the new sentence
                parts = {k: _inner(v) for k, v in parts.items()}
            return template.format(**parts)
    return None


def _inner(phrase: str) -> str:
    """A sentence's opening phrase as it reads inside another sentence: no leading article,
    lower case unless it starts with an abbreviation ("A calcified granuloma" -> "calcified
    granuloma")."""
    phrase = re.sub(r"^(?:an?|the)\s+", "", phrase, flags=re.I)
    if len(phrase) > 1 and not phrase[:2].isupper():
        phrase = phrase[0].lower() + phrase[1:]
    return phrase


def unsupported_claim(
    report: str,
    rng: random.Random,
    claims: Sequence[tuple[str, tuple[str, ...]]] = _UNSUPPORTED,
) -> str:
    """A claim that the report does not support (its words are absent from the report)."""
    lower = report.lower()
    choices = [claim for claim, words in claims if not any(w in lower for w in words)]
    return rng.choice(choices or [claims[0][0]])


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


class SourceValidity(BaseModel):
    """Ordering accuracy and paraphrase stability per sub-score on one source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_reports: int
    ordering: dict[str, Ordering]
    paraphrase_stability: dict[str, float | None]
    paraphrase_pairs: int


class StatusCount(BaseModel):
    """Truth findings of one status and how many the judge extracted with that status."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    findings: int
    found: int
    correct: int


class TruthCheck(BaseModel):
    """The judge's extraction from phantom reports checked against the reports' own truth.

    A truth finding (a claim with a CheXpert label about the current study) is *found* when
    the judge extracts a finding of the same label, *correct* when one of those has the true
    status, *located* when such a correct one also names the true side. A judge finding is
    *spurious* when the report states nothing of its label, *contradicting* when the report
    states its label only with other statuses.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_reports: int
    truth_findings: int
    found: int
    correct: int
    sided: int
    located: int
    by_status: dict[str, StatusCount]
    judge_findings: int
    spurious: int
    contradicting: int
    unlabeled: int
    failed: int

    @property
    def recall(self) -> float | None:
        return self.found / self.truth_findings if self.truth_findings else None

    @property
    def correct_rate(self) -> float | None:
        """Share of truth findings extracted with the right status."""
        return self.correct / self.truth_findings if self.truth_findings else None

    @property
    def located_rate(self) -> float | None:
        return self.located / self.sided if self.sided else None

    @property
    def spurious_rate(self) -> float | None:
        """Share of the judge's labelled findings that the report does not state."""
        return self.spurious / self.judge_findings if self.judge_findings else None

    @property
    def contradicting_rate(self) -> float | None:
        return self.contradicting / self.judge_findings if self.judge_findings else None


class ValidityReport(BaseModel):
    """Ordering accuracy and paraphrase stability per sub-score, per source.

    The top-level figures are those of ``source``, the first source run (IU X-ray by
    default), as before sources existed; ``by_source`` has every source, ``truth`` the direct
    check of extraction against truth for the phantom sources.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: JudgeInfo
    n_reports: int
    seed: int
    ordering: dict[str, Ordering]
    paraphrase_stability: dict[str, float | None]
    paraphrase_pairs: int
    source: str = "iu-xray"
    by_source: dict[str, SourceValidity] = Field(default_factory=dict)
    truth: dict[str, TruthCheck] = Field(default_factory=dict)


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
    judge: Judge,
    n_reports: int = 200,
    seed: int = 0,
    *,
    concurrency: int = 16,
    sources: Sequence[str] = DEFAULT_SOURCES,
    phantom_reports: int | None = None,
) -> ValidityReport:
    """Build controlled variants from each source's reports and check the judge.

    ``n_reports`` IU X-ray reports and ``phantom_reports`` (default: as many) phantom studies
    per phantom source; the top-level figures are those of the first of ``sources``.
    """
    unknown = [name for name in sources if name not in SOURCES]
    if unknown or not sources:
        raise ConfigError(
            f"unknown validity sources {unknown or '(none given)'}; choose from "
            + ", ".join(SOURCES)
        )
    limit = asyncio.Semaphore(concurrency)
    references = ReferenceCache()
    by_source: dict[str, SourceValidity] = {}
    truth: dict[str, TruthCheck] = {}
    for name in dict.fromkeys(sources):
        if name == "iu-xray":
            cases = await _iu_cases(judge, n_reports, seed, limit)
        else:
            count = n_reports if phantom_reports is None else phantom_reports
            phantom = _phantom_sample(_PHANTOM_STYLES[name], count, seed)
            rng = random.Random(f"{seed}/{name}")
            cases = [c for c in (_phantom_case(case, rng) for case in phantom) if c is not None]
            truth[name] = await truth_extraction(judge, phantom, concurrency=concurrency)
        by_source[name] = await _validity(judge, cases, references, limit)
    primary = by_source[sources[0]]
    return ValidityReport(
        judge=judge.info,
        n_reports=primary.n_reports,
        seed=seed,
        ordering=primary.ordering,
        paraphrase_stability=primary.paraphrase_stability,
        paraphrase_pairs=primary.paraphrase_pairs,
        source=sources[0],
        by_source=by_source,
        truth=truth,
    )


async def _iu_cases(
    judge: Judge, n_reports: int, seed: int, limit: asyncio.Semaphore
) -> list[_Case]:
    rng = random.Random(seed)
    reports = load_reports()
    rng.shuffle(reports)
    cases: list[_Case] = []
    for report in reports:
        if len(cases) >= n_reports:
            break
        case = await _case(judge, report, rng, limit)
        if case is not None:
            cases.append(case)
    return cases


async def _validity(
    judge: Judge, cases: Sequence[_Case], references: ReferenceCache, limit: asyncio.Semaphore
) -> SourceValidity:
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
    return SourceValidity(
        n_reports=len(cases),
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


# --- phantom sources: variants built from the truth ---------------------------------------------

_ARCHIVE_UNSUPPORTED = (
    ("Right IJ central venous catheter terminates in the right atrium.",
     ("catheter", "line", " ij ", "jugular")),
    ("There is a new left apical pneumothorax.", ("pneumothora",)),
    ("Interval increase in moderate pulmonary edema.", ("edema", "congestion")),
    ("Severe cardiomegaly, increased since the prior study.", ("cardiomegaly", "heart", "cardiac")),
    ("A large hiatal hernia is unchanged.", ("hernia",)),
    ("New right lower lobe consolidation, concerning for pneumonia.",
     ("consolidat", "pneumonia", "opaci", "right lower lobe")),
)  # fmt: skip
_ARCHIVE_IRRELEVANT = (
    "Findings were discussed with Dr. ___ by telephone at ___.",
    "Clinical correlation is recommended.",
    "The study was performed at the bedside.",
)
# How a flip states that a finding is absent, and (with {side} and {lobe}) that it is present.
_ABSENT_NOUNS = {
    "Atelectasis": "atelectasis",
    "Cardiomegaly": "cardiomegaly",
    "Consolidation": "focal consolidation",
    "Edema": "pulmonary edema",
    "Fracture": "acute fracture",
    "Lung Lesion": "pulmonary nodule or mass",
    "Lung Opacity": "focal opacity",
    "Pleural Effusion": "pleural effusion",
    "Pneumonia": "pneumonia",
    "Pneumothorax": "pneumothorax",
    "Support Devices": "lines or tubes",
}
_PRESENT_SENTENCES = {
    "Atelectasis": "Moderate {side} basilar atelectasis.",
    "Cardiomegaly": "Moderate cardiomegaly.",
    "Consolidation": "Dense consolidation in the {lobe}.",
    "Edema": "Moderate pulmonary edema.",
    "Fracture": "Acute displaced fracture of the {side} sixth rib.",
    "Lung Lesion": "2.5 cm nodule in the {lobe}.",
    "Lung Opacity": "Patchy opacity in the {lobe}.",
    "Pleural Effusion": "Moderate {side} pleural effusion.",
    "Pneumonia": "{Lobe} pneumonia.",
    "Pneumothorax": "Moderate {side} apical pneumothorax.",
    "Support Devices": "ET tube terminates 4 cm above the carina.",
}
_LOBE_WORDS = ("right upper lobe", "right lower lobe", "left upper lobe", "left lower lobe")


def _phantom_sample(style: Literal["archive", "openi"], n: int, seed: int) -> list[PhantomCase]:
    """``n`` phantom cases whose chains state at least two findings (drawn from 2n studies)."""
    cases = [c for c in phantom_cases(style, 2 * n + 10, seed) if len(_chain_labels(c)) >= 2]
    return cases[:n]


def _chain_labels(case: PhantomCase) -> set[str]:
    return {c.label for claims in case.chain_claims for c in claims if c.label}


# Archive phrasings of a finding that is gone ("has resolved", "has been removed").
_GONE = {
    "Atelectasis": "Previously seen {side}atelectasis has resolved.",
    "Cardiomegaly": "Heart size is now normal.",
    "Consolidation": "Previously seen {side}consolidation has resolved.",
    "Edema": "Interval resolution of the pulmonary edema.",
    "Fracture": "No acute fracture.",
    "Lung Lesion": "No pulmonary nodule or mass.",
    "Lung Opacity": "Previously seen {side}opacity has resolved.",
    "Pleural Effusion": "The {side}pleural effusion has resolved.",
    "Pneumonia": "Previously seen {side}pneumonia has resolved.",
    "Pneumothorax": "The {side}pneumothorax has resolved.",
}


def flip_claims(
    claims: Sequence[Claim], rng: random.Random, *, archive: bool = False
) -> str | None:
    """A sentence stating the opposite of ``claims`` (all absent, or all present/uncertain).

    With ``archive``, half the flips are phrased as archive reports phrase them ("The left
    pleural effusion has resolved.", "The endotracheal tube has been removed.", "New moderate
    right pleural effusion.").
    """
    labelled = [c for c in claims if c.label in _ABSENT_NOUNS and c.time == "current"]
    if not labelled or len({c.status == "absent" for c in labelled}) != 1:
        return None
    labels = list(dict.fromkeys(str(c.label) for c in labelled))
    styled = archive and rng.random() < 0.5
    if labelled[0].status != "absent":
        if not styled:
            nouns = [_ABSENT_NOUNS[label] for label in labels]
            return f"No {' or '.join(nouns)}."
        gone = []
        for claim in labelled:
            if claim.label == "Support Devices":
                gone.append(f"The {claim.concept} has been removed.")
            else:
                side = f"{claim.side} " if claim.side in ("right", "left") else ""
                gone.append(_GONE[str(claim.label)].format(side=side))
        return " ".join(dict.fromkeys(gone))
    sentences = []
    for claim in labelled:
        side = claim.side if claim.side in ("right", "left") else rng.choice(("right", "left"))
        lobe = rng.choice([lobe for lobe in _LOBE_WORDS if lobe.startswith(side)])
        sentence = _PRESENT_SENTENCES[str(claim.label)].format(
            side=side, lobe=lobe, Lobe=lobe.capitalize()
        )
        if styled and claim.label != "Support Devices":
            sentence = f"New {sentence[0].lower()}{sentence[1:]}"
        sentences.append(sentence)
    return " ".join(dict.fromkeys(sentences))


def _phantom_case(case: PhantomCase, rng: random.Random) -> _Case | None:
    """Variants of a phantom chain, built from the claims of its steps."""
    chain = list(case.chain)
    labels = [{c.label for c in claims if c.label} for claims in case.chain_claims]
    stated = sorted(set().union(*labels))
    if len(stated) < 2:
        return None

    def steps_of(label: str) -> frozenset[int]:
        return frozenset(i for i, found in enumerate(labels) if label in found)

    order = rng.sample(stated, len(stated))
    first = steps_of(order[0])
    second = next(
        (
            first | steps_of(label)
            for label in order[1:]
            if not steps_of(label) <= first
            and any(labels[i] for i in range(len(chain)) if i not in first | steps_of(label))
        ),
        None,
    )
    archive = case.style == "archive"
    text = f"{case.report}\n{' '.join(chain)}"
    pool = (*_UNSUPPORTED, *_ARCHIVE_UNSUPPORTED) if archive else _UNSUPPORTED
    irrelevant = _ARCHIVE_IRRELEVANT if archive else _IRRELEVANT
    variants = {
        "base": "\n".join(chain),
        "drop1": _join(chain, drop=first),
        # Added before the conclusion, where a model would state them.
        "unsupported": "\n".join(
            [*chain[:-1], unsupported_claim(f" {text} ", rng, pool), chain[-1]]
        ),
        "irrelevant": "\n".join([*chain[:-1], rng.choice(irrelevant), chain[-1]]),
        "paraphrase": "\n".join(paraphrase(s, archive=archive) for s in chain),
    }
    if second is not None:
        variants["drop2"] = _join(chain, drop=second)
    # A step whose findings no other step states: the flip leaves no copy of what it negates.
    flippable = [
        (i, flipped)
        for i, claims in enumerate(case.chain_claims[:-1])
        if labels[i] and all(steps_of(label) == {i} for label in labels[i])
        if (flipped := flip_claims(claims, rng, archive=archive)) is not None
    ]
    if flippable:
        index, flipped = rng.choice(flippable)
        variants["flip"] = _join(chain, replace={index: flipped})
    return _Case(case.id, tuple(chain), case.report, variants)


# --- extraction against the truth ---------------------------------------------------------------


def finding_label(finding: Finding, judge: Judge | None = None) -> str | None:
    """The CheXpert label of a judge's finding: its lexicon concept's, else its words'."""
    lexicon = getattr(judge, "lexicon", None)
    if finding.code is not None and lexicon is not None:
        spec = lexicon.findings.get(finding.code)
        if spec is not None:
            return str(spec.chexpert) if spec.chexpert else None
    mentions = synonyms().labels.mentions(finding.observation)
    return mentions[0].key if mentions else None


def finding_side(location: str | None) -> str | None:
    """right, left or bilateral, from a location text."""
    words = set(re.findall(r"[a-z]+", (location or "").lower()))
    if (
        words & {"bilateral", "bilaterally", "both", "bibasilar", "bibasal"}
        or {
            "right",
            "left",
        }
        <= words
    ):
        return "bilateral"
    return "right" if "right" in words else "left" if "left" in words else None


@dataclass
class _Tally:
    truth_findings: int = 0
    found: int = 0
    correct: int = 0
    sided: int = 0
    located: int = 0
    judge_findings: int = 0
    spurious: int = 0
    contradicting: int = 0
    unlabeled: int = 0


def _compare(
    truth: Sequence[Claim], extracted: Sequence[Finding], judge: Judge, tally: _Tally
) -> tuple[list[tuple[str, Claim | None, Finding | None]], Counter[tuple[str, str]]]:
    """Count one text's truth against the judge's findings; returns its failures."""
    failures: list[tuple[str, Claim | None, Finding | None]] = []
    statuses: Counter[tuple[str, str]] = Counter()
    labelled = [(finding_label(f, judge), f) for f in extracted]
    current = [c for c in truth if c.label and c.time == "current"]
    for claim in current:
        tally.truth_findings += 1
        same = [f for label, f in labelled if label == claim.label]
        right = [f for f in same if f.status == claim.status]
        statuses[(claim.status, "findings")] += 1
        if not same:
            failures.append(("missed", claim, None))
            continue
        tally.found += 1
        statuses[(claim.status, "found")] += 1
        if not right:
            failures.append(("wrong status", claim, same[0]))
            continue
        tally.correct += 1
        statuses[(claim.status, "correct")] += 1
        if claim.side is not None:
            tally.sided += 1
            if any(finding_side(f.location) == claim.side for f in right):
                tally.located += 1
            else:
                failures.append(("wrong side", claim, right[0]))
    truth_labels: dict[str, set[str]] = {}
    for claim in truth:
        if claim.label:
            truth_labels.setdefault(claim.label, set()).add(claim.status)
    for label, finding in labelled:
        if label is None:
            tally.unlabeled += 1
            continue
        tally.judge_findings += 1
        if label not in truth_labels:
            tally.spurious += 1
            failures.append(("spurious", None, finding))
        elif finding.status not in truth_labels[label]:
            tally.contradicting += 1
    return failures, statuses


async def truth_extraction(
    judge: Judge, cases: Sequence[PhantomCase], *, concurrency: int = 16
) -> TruthCheck:
    """How well the judge reads phantom reports: their findings against the judge's."""
    limit = asyncio.Semaphore(concurrency)

    async def extract(text: str) -> list[Finding] | None:
        async with limit:
            return await judge.extract_findings(text)

    extracted = await asyncio.gather(*(extract(case.report) for case in cases))
    tally, statuses, failed = _Tally(), Counter[tuple[str, str]](), 0
    for case, findings in zip(cases, extracted, strict=True):
        if findings is None:
            failed += 1
            continue
        statuses += _compare(case.findings, findings, judge, tally)[1]
    by_status = {
        status: StatusCount(
            findings=statuses[(status, "findings")],
            found=statuses[(status, "found")],
            correct=statuses[(status, "correct")],
        )
        for status in ("present", "absent", "uncertain")
    }
    return TruthCheck(
        n_reports=len(cases) - failed,
        by_status=by_status,
        failed=failed,
        **vars(tally),
    )


@dataclass(frozen=True)
class SentenceFailure:
    """One sentence the judge misreads: what it states and what the judge extracted."""

    case_id: str
    section: str
    form: str
    sentence: str
    kind: str  # missed, wrong status, wrong side, spurious
    truth: str
    extracted: str


async def sentence_failures(
    judge: Judge, cases: Iterable[PhantomCase], *, concurrency: int = 16
) -> tuple[list[SentenceFailure], Counter[str]]:
    """Every report sentence read on its own and checked against its claims.

    Returns the failures and, per phrasing form, how many sentences of that form were read
    (to turn failure counts into rates).
    """
    limit = asyncio.Semaphore(concurrency)
    items = [(case.id, statement) for case in cases for statement in case.statements]

    async def extract(text: str) -> list[Finding] | None:
        async with limit:
            return await judge.extract_findings(text)

    extracted = await asyncio.gather(*(extract(statement.text) for _, statement in items))
    out: list[SentenceFailure] = []
    seen: Counter[str] = Counter()
    for (case_id, statement), findings in zip(items, extracted, strict=True):
        seen[statement.form or statement.section] += 1
        if findings is None:
            continue
        failures, _ = _compare(statement.claims, findings, judge, _Tally())
        out.extend(
            SentenceFailure(
                case_id,
                statement.section,
                statement.form or statement.section,
                statement.text,
                kind,
                _describe_claim(claim),
                _describe_finding(finding, judge),
            )
            for kind, claim, finding in failures
        )
    return out, seen


def _describe_claim(claim: Claim | None) -> str:
    if claim is None:
        return "-"
    where = f" ({claim.side})" if claim.side else ""
    change = f", {claim.change}" if claim.change else ""
    return f"{claim.label} {claim.status}{where}{change}"


def _describe_finding(finding: Finding | None, judge: Judge) -> str:
    if finding is None:
        return "-"
    where = f" @ {finding.location}" if finding.location else ""
    return f"{finding.observation!r} -> {finding_label(finding, judge)} {finding.status}{where}"

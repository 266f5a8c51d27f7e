"""The judge interface behind RadRScore, shared by the offline and the LLM judges.

A judge does three things for a (model output, sample) pair, each one async call:

1. ``extract_findings(text)``: the key findings a text asserts (observation, status,
   location). The reference side (ground-truth chain and report) goes through
   ``extract_reference`` once per sample; its result is cached and reused for every model.
2. ``compare_findings(findings, reference)``: which reference findings the model's findings
   recall (completeness) and which model findings are consistent with the report
   (factuality: a finding the report does not mention is correct if called absent/normal,
   incorrect if called abnormal).
3. ``label_steps(reasoning, reference)``: the model's reasoning steps, each labelled
   supported / contradicted / unsupported by the ground-truth chain (effectiveness).

So an LLM judge needs at most three calls per new (model, sample) once the reference side
is cached. Every method returns ``None`` when the judge fails (unparseable reply after its
retries, timeout): a failure is excluded from the averages and counted, never scored 0.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FindingStatus = Literal["present", "absent", "uncertain"]
StepLabel = Literal["supported", "contradicted", "unsupported"]


class Finding(BaseModel):
    """One key finding: what is observed, whether it is there, and where."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    observation: str = Field(min_length=1)
    status: FindingStatus
    location: str | None = None
    code: str | None = None
    """The judge's normalised concept (the offline judge's lexicon id), when it has one."""
    evidence: str | None = None
    """The sentence the finding was read from, for auditing."""


class ReferenceFindings(BaseModel):
    """The reference side of a sample, extracted once and reused for every model.

    ``report_findings`` is ``None`` for judges that read the report text directly.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    chain: tuple[str, ...]
    report: str
    chain_findings: tuple[Finding, ...]
    report_findings: tuple[Finding, ...] | None = None


class FindingComparison(BaseModel):
    """Which reference findings were recalled and which model findings are consistent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recalled: tuple[bool, ...]
    """One flag per reference (chain) finding."""
    consistent: tuple[bool, ...]
    """One flag per model finding (consistent with the report)."""


class StepJudgment(BaseModel):
    """One reasoning step of the model and its label against the ground-truth chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    label: StepLabel


class JudgeInfo(BaseModel):
    """What a score records about the judge that produced it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: str
    version: str


class Judge(ABC):
    """A RadRScore judge. Subclasses set ``spec`` and ``version`` and implement the calls."""

    spec: str
    """How to rebuild the judge, e.g. ``offline`` or ``openai:gpt-4o-2024-08-06@http://…``."""
    version: str
    """Prompt or lexicon version: a change here invalidates cached judgments."""

    @property
    def info(self) -> JudgeInfo:
        return JudgeInfo(spec=self.spec, version=self.version)

    @abstractmethod
    async def extract_findings(self, text: str) -> list[Finding] | None:
        """The findings a text asserts (procedure and hypotheses are not findings)."""

    async def extract_reference(
        self, chain: Sequence[str], report: str
    ) -> ReferenceFindings | None:
        """Extract the reference side once per sample (default: the chain's findings)."""
        findings = await self.extract_findings("\n".join(chain))
        if findings is None:
            return None
        return ReferenceFindings(chain=tuple(chain), report=report, chain_findings=tuple(findings))

    @abstractmethod
    async def compare_findings(
        self, findings: Sequence[Finding], reference: ReferenceFindings
    ) -> FindingComparison | None:
        """Recall of the chain's findings and consistency of the model's with the report."""

    @abstractmethod
    async def label_steps(
        self, reasoning: str, reference: ReferenceFindings
    ) -> list[StepJudgment] | None:
        """Split the model's reasoning into steps and label each against the chain."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release clients or models."""


def check_comparison(
    comparison: FindingComparison, findings: Sequence[Finding], reference: ReferenceFindings
) -> FindingComparison | None:
    """The comparison if its flags line up with the findings, else ``None`` (a failure)."""
    if len(comparison.recalled) != len(reference.chain_findings):
        return None
    if len(comparison.consistent) != len(findings):
        return None
    return comparison

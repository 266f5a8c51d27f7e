"""Synthetic run directories, as ``radrbench eval`` and ``radrbench score`` write them, for
the leaderboard's tests and benchmarks (many runs, tasks and judges in seconds, no server).

A run holds ``summary.json`` (schema 1, with bootstrap CIs computed from its own per-sample
values), ``config.json``, lm-eval's ``samples_<task>_<time>.jsonl`` (the fields the
leaderboard reads) and ``judgments/<judge>.jsonl`` per judge. Sample ids depend only on the
task and index, so runs of the same tasks share samples (and are compared paired).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radrbench.metrics.bootstrap import FloatArray, bootstrap_interval, safe_ratio

STAMP = "2026-01-01T00-00-00.000000"
DEMO_TASKS: dict[str, tuple[str, str]] = {
    "radrbench_phantom_binary": ("phantom", "binary"),
    "radrbench_phantom_single": ("phantom", "single"),
    "radrbench_phantom_multi_open": ("phantom", "multi_open"),
    "radrbench_phantom_rsna_binary": ("phantom-rsna", "binary"),
}
_NO_REASONING = ("rsna", "siim")
_LABELS = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")
_RESAMPLES = 200


def many_tasks(count: int) -> dict[str, tuple[str, str]]:
    """``count`` task names in the radrbench style, one in six of them ``multi_open``."""
    families = ("binary", "single", "multi", "multi_open", "anomaly", "temporal")
    return {
        f"radrbench_src{i // 6}_{families[i % 6]}": (f"src{i // 6}", families[i % 6])
        for i in range(count)
    }


def _estimate(values: FloatArray, statistic: Any, n: int) -> dict[str, Any]:
    value = float(statistic(values.sum(axis=0)[None, :])[0])
    low, high = bootstrap_interval(values, statistic, resamples=_RESAMPLES, seed=0)
    return {"value": value, "ci_low": low, "ci_high": high, "n": n}


def _accuracy(values: FloatArray) -> dict[str, Any]:
    n = len(values)
    return _estimate(values.reshape(n, 1), lambda s: s[:, 0] / n, n)


def _labels(values: FloatArray) -> dict[str, dict[str, Any]]:
    n = len(values)

    def f1(s: FloatArray) -> FloatArray:
        return safe_ratio(2 * s[:, 0], 2 * s[:, 0] + s[:, 1] + s[:, 2])

    return {
        "label_precision": _estimate(values, lambda s: safe_ratio(s[:, 0], s[:, 0] + s[:, 1]), n),
        "label_recall": _estimate(values, lambda s: safe_ratio(s[:, 0], s[:, 0] + s[:, 2]), n),
        "label_f1": _estimate(values, f1, n),
        "exact_match": _accuracy((values[:, 1] + values[:, 2] == 0).astype(float)),
    }


def _radrscore(scores: FloatArray) -> dict[str, Any]:
    """Macro means (failures excluded) with CIs, as radrbench.metrics.judging computes them."""
    valid = ~np.isnan(scores)
    data = np.empty((len(scores), 6))
    data[:, 0::2] = np.where(valid, scores, 0.0)
    data[:, 1::2] = valid

    def means(s: FloatArray) -> FloatArray:
        parts = np.stack([safe_ratio(s[:, 2 * i], s[:, 2 * i + 1]) for i in range(3)], axis=1)
        return np.concatenate([parts, parts.mean(axis=1, keepdims=True)], axis=1)

    out: dict[str, Any] = {"n": len(scores)}
    for index, name in enumerate(("factuality", "completeness", "effectiveness", "radrscore")):
        n = int(valid[:, index].sum()) if index < 3 else int(valid.all(axis=1).sum())
        estimate = _estimate(data, lambda s, i=index: means(s)[:, i], n)
        if index < 3:
            column = scores[:, index][valid[:, index]]
            estimate["value"] = float(column.mean()) if len(column) else None
        else:
            parts = [out[p]["value"] for p in ("factuality", "completeness", "effectiveness")]
            estimate["value"] = None if None in parts else sum(parts) / 3
            estimate["n"] = min(
                out[p]["n"] for p in ("factuality", "completeness", "effectiveness")
            )
        out[name] = estimate
    out["judge_failures"] = int((~valid).any(axis=1).sum())
    return out


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


def write_run(
    run_dir: Path,
    *,
    model: str,
    tasks: Mapping[str, tuple[str, str]] | None = None,
    n: int = 20,
    skill: float = 0.6,
    reasoning: float = 0.5,
    judges: Sequence[tuple[str, str]] = (("offline", "offline-test"),),
    judge_noise: float = 0.1,
    benchmark: tuple[str, str] = ("radrbench-phantom", "1.0"),
    limit: int | None = None,
    parse_failure_rate: float = 0.05,
    judge_failure_rate: float = 0.0,
    seed: int = 0,
    finished_at: str = "2026-01-01T00:00:00+00:00",
    prompt_profile: str = "radrbench",
) -> Path:
    """Write a finished, judged run; the last of ``judges`` is the one in the summary."""
    tasks = dict(tasks or DEMO_TASKS)
    rng = np.random.default_rng(_seed(model, seed))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "judgments").mkdir(exist_ok=True)
    outcome_tasks: dict[str, Any] = {}
    summary_tasks: dict[str, Any] = {}
    choice_all: list[float] = []
    label_all: list[list[int]] = []
    parse_total = 0
    judged: dict[tuple[str, str], dict[str, tuple[list[str], FloatArray]]] = {j: {} for j in judges}
    for task, (source, family) in sorted(tasks.items()):
        ids = [f"{task}-{i:04d}" for i in range(n)]
        parse_failed = rng.random(n) < parse_failure_rate
        records = []
        if family == "multi_open":
            counts = []
            for i, sample_id in enumerate(ids):
                gold = list(rng.choice(_LABELS, size=2, replace=False))
                pred = [] if parse_failed[i] else [g for g in gold if rng.random() < skill]
                if not parse_failed[i] and rng.random() > skill:
                    pred.append(next(label for label in _LABELS if label not in gold))
                counts.append(
                    [
                        len(set(gold) & set(pred)),
                        len(set(pred) - set(gold)),
                        len(set(gold) - set(pred)),
                    ]
                )
                pair = {"gold": sorted(gold), "pred": sorted(pred)}
                records.append(
                    {
                        "doc_id": i,
                        "doc": {"id": sample_id, "source": source, "task": family},
                        "resps": [["<answer>" + ", ".join(pred) + "</answer>"]],
                        "label_precision": pair,
                        "label_recall": pair,
                        "label_f1": pair,
                        "exact_match": float(set(gold) == set(pred)),
                        "parse_failed": float(parse_failed[i]),
                    }
                )
            values = np.asarray(counts, dtype=float)
            label_all += counts
            metrics = _labels(values)
            primary = "label_f1"
        else:
            correct = (rng.random(n) < skill) & ~parse_failed
            for i, sample_id in enumerate(ids):
                records.append(
                    {
                        "doc_id": i,
                        "doc": {"id": sample_id, "source": source, "task": family},
                        "resps": [["<answer>A</answer>"]],
                        "accuracy": float(correct[i]),
                        "parse_failed": float(parse_failed[i]),
                    }
                )
            choice_all += correct.astype(float).tolist()
            metrics = {"accuracy": _accuracy(correct.astype(float))}
            primary = "accuracy"
        with (run_dir / f"samples_{task}_{STAMP}.jsonl").open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
        parse_total += int(parse_failed.sum())
        summary_tasks[task] = {
            "source": source,
            "family": family,
            "n": n,
            "parse_failed": int(parse_failed.sum()),
            "primary": primary,
            "metrics": metrics,
        }
        outcome_tasks[f"{source}/{family}"] = {
            "n": n,
            "parse_failed": int(parse_failed.sum()),
            "primary": primary,
            "metrics": metrics,
        }
        if source.endswith(_NO_REASONING):
            continue
        base = np.clip(reasoning + rng.normal(0, 0.15, size=(n, 3)), 0, 1)
        for judge in judges:
            jrng = np.random.default_rng(_seed(model, seed, judge, task))
            scores = np.clip(base + jrng.normal(0, judge_noise, size=(n, 3)), 0, 1)
            scores[jrng.random(n) < judge_failure_rate] = np.nan
            judged[judge][task] = (ids, scores)
    for judge in judges:
        slug = judge[0].split("@", 1)[0].replace(":", "_")
        with (run_dir / "judgments" / f"{slug}.jsonl").open("w", encoding="utf-8") as handle:
            for task, (ids, scores) in sorted(judged[judge].items()):
                for sample_id, row in zip(ids, scores, strict=True):
                    parts = [None if np.isnan(v) else float(v) for v in row]
                    record = {
                        "task": task,
                        "sample_id": sample_id,
                        "judge": {"spec": judge[0], "version": judge[1]},
                        "factuality": parts[0],
                        "completeness": parts[1],
                        "effectiveness": parts[2],
                        "reasoning": "synthetic",
                        "failures": [] if None not in parts else ["extract"],
                        "radrscore": None
                        if None in parts
                        else sum(p for p in parts if p is not None) / 3,
                    }
                    handle.write(json.dumps(record) + "\n")
    overall_metrics: dict[str, Any] = {}
    if choice_all:
        overall_metrics["accuracy"] = _accuracy(np.asarray(choice_all))
    if label_all:
        overall_metrics.update(_labels(np.asarray(label_all, dtype=float)))
    of_record = judges[-1] if judges else None
    radrscore = None
    judge_info = None
    if of_record is not None and judged[of_record]:
        by_task = {
            task: _radrscore(scores) for task, (_, scores) in sorted(judged[of_record].items())
        }
        every = np.concatenate([scores for _, scores in judged[of_record].values()])
        radrscore = {"overall": _radrscore(every), "by_task": by_task}
        slug = of_record[0].split("@", 1)[0].replace(":", "_")
        judge_info = {
            "spec": of_record[0],
            "version": of_record[1],
            "judgments": f"judgments/{slug}.jsonl",
            "cache": "judge_cache.sqlite",
        }
    total = n * len(tasks)
    summary = {
        "schema_version": "1",
        "run_id": run_dir.name,
        "radrbench_version": "0.1.0",
        "lm_eval_version": "0.4.13",
        "model": {
            "name": model,
            "kind": "endpoint",
            "baseline": None,
            "revision": None,
            "engine": None,
            "prompt_profile": prompt_profile,
        },
        "benchmark": {
            "name": benchmark[0],
            "version": benchmark[1],
            "data_dir": "bench",
            "n_samples": total,
            "limit": limit,
            "task_hashes": {
                task: _seed(task).to_bytes(8, "little").hex() for task in sorted(tasks)
            },
        },
        "tasks": summary_tasks,
        "outcome": {
            "bootstrap": {
                "method": "percentile",
                "resamples": _RESAMPLES,
                "confidence": 0.95,
                "seed": 0,
            },
            "overall": {
                "n": total,
                "parse_failed": parse_total,
                "primary": "accuracy" if choice_all else "label_f1",
                "metrics": overall_metrics,
            },
            "by_family": {},
            "by_source": {},
            "by_task": outcome_tasks,
            "by_finding": {},
        },
        "radrscore": radrscore,
        "judge": judge_info,
        "failures": {
            "request_failures": 0,
            "parse_failures": parse_total,
            "judge_failures": (radrscore or {}).get("overall", {}).get("judge_failures", 0)
            if radrscore
            else 0,
        },
        "usage": {
            "requests": total,
            "prompt_tokens": 100 * total,
            "completion_tokens": 50 * total,
            "cost_usd": None,
        },
        "run": {
            "endpoint": "http://127.0.0.1:8000/v1",
            "finished_at": finished_at,
            "timings_s": {},
            "retries": 0,
        },
    }
    config = {
        "model": {"kind": "endpoint", "name": model, "base_url": "http://127.0.0.1:8000/v1"},
        "tasks": sorted(tasks),
        "limit": limit,
        "prompt_profile": prompt_profile,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1), "utf-8")
    (run_dir / "config.json").write_text(json.dumps(config, indent=1), "utf-8")
    return run_dir

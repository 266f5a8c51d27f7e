"""How far a judge built on what the offline judge measures could agree with GPT-4o.

Two checks on ../shared/data/openi_gpt4o_judgments.jsonl, both printed per sub-score:

1. **Learned ceiling.** The offline judge's audit of each sample (counts of chain, model and
   report findings, recalled and consistent ones, statuses, supported and contradicted
   steps, its three sub-scores) plus facts about the record (task, model, answer right or
   wrong, output length) are fitted to GPT-4o's sub-scores on the development part by
   gradient boosting; the held-out Spearman (and the out-of-fold one over all records,
   folds split by study) says how much of GPT-4o's ranking those measurements carry at
   all, whatever rule combines them. The last column leaves out the record facts, which
   are not about the reasoning.
2. **Reference consistency.** Empty model outputs must score 0 under the released rules;
   the count of empty outputs GPT-4o scored above 0, or extracted findings for, shows how
   often its scores follow something other than the model output.

Usage: python benchmarks/agreement_ceiling.py [--file PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.model_selection import GroupKFold, cross_val_predict

from radrbench.data.official import parse_options
from radrbench.metrics.agreement import JudgedRecord, load_judgments, record_key
from radrbench.metrics.answers import parse_choice
from radrbench.metrics.judges.offline import OfflineJudge
from radrbench.metrics.radrscore import SUB_SCORES, SampleScore, ScoringItem, score_many

RECORD_FACTS = 5
DEFAULT_FILE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "openi_gpt4o_judgments.jsonl"
)


def _answer_right(record: dict[str, object]) -> float:
    """1 when the output chose the right option, else 0; 0.5 for questions without options."""
    question = str(record.get("question") or "")
    options = parse_options(question)
    if not options:
        return 0.5
    gold = parse_choice(str(record.get("answer") or ""), options, question=question).letter
    chosen = parse_choice(str(record.get("prediction") or ""), options, question=question).letter
    return float(gold is not None and chosen == gold)


def _features(record: JudgedRecord, raw: dict[str, object], score: SampleScore) -> list[float]:
    chain = score.chain_findings or ()
    model = score.model_findings or ()
    labels = [step.label for step in score.steps or ()]
    status_recalled = sum(
        bool(hit) and any(m.code == c.code and m.status == c.status for m in model)
        for c, hit in zip(chain, score.recalled or (), strict=True)
    )
    return [
        score.factuality or 0.0,
        score.completeness or 0.0,
        score.effectiveness or 0.0,
        len(chain),
        sum(score.recalled or ()),
        status_recalled,
        len(model),
        sum(score.consistent or ()),
        sum(f.status == "present" for f in model),
        sum(f.status == "absent" for f in model),
        len(score.report_findings or ()),
        len(labels),
        labels.count("supported"),
        labels.count("contradicted"),
        # Facts about the record rather than its reasoning (the last RECORD_FACTS columns).
        _answer_right(raw),
        len(score.reasoning),
        float(record.task == "openi_multi"),
        float(record.task == "openi_single"),
        float(record.model == "gpt-4o"),
    ]


def _raw_records(path: Path) -> dict[str, dict[str, object]]:
    records = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            raw = json.loads(line)
            records[record_key(raw, number)] = raw
    return records


async def main(path: Path) -> None:
    if not path.is_file():
        sys.exit(f"judgments file not found: {path} (it lives in ../shared/data/)")
    records, _ = load_judgments(path)
    raw = _raw_records(path)
    judge = OfflineJudge()
    items = [ScoringItem(r.key, r.prediction, r.chain, r.report, r.question) for r in records]
    scores = await score_many(judge, items, concurrency=16)
    rows = [(r, s) for r, s in zip(records, scores, strict=True) if s.factuality is not None]
    x = np.array([_features(r, raw[r.key], s) for r, s in rows])
    held_out = np.array([r.held_out for r, _ in rows])
    studies = [r.report for r, _ in rows]
    print(
        f"learned ceiling: fitted on {int((~held_out).sum())} development records, checked on "
        f"{int(held_out.sum())} held-out; and out-of-fold over all {len(rows)} (5 folds by study)"
    )
    header = ("judge held-out", "fitted", "judge all", "fitted", "judge-only fit")
    print(f"{'Spearman':<16}" + "".join(f"{h:>16}" for h in header))
    judge_only = x[:, :-RECORD_FACTS]
    for column, name in enumerate(SUB_SCORES):
        y = np.array([r.reference[name] for r, _ in rows])
        model = GradientBoostingRegressor(
            n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=0
        )
        fitted = model.fit(x[~held_out], y[~held_out]).predict(x[held_out])
        folds = cross_val_predict(model, x, y, groups=studies, cv=GroupKFold(5))
        own = cross_val_predict(model, judge_only, y, groups=studies, cv=GroupKFold(5))
        cells = (
            spearmanr(x[held_out, column], y[held_out]).statistic,
            spearmanr(fitted, y[held_out]).statistic,
            spearmanr(x[:, column], y).statistic,
            spearmanr(folds, y).statistic,
            spearmanr(own, y).statistic,
        )
        print(f"{name:<16}" + "".join(f"{c:>16.3f}" for c in cells))

    empty = [raw[r.key] for r in records if not "".join(r.prediction).strip()]
    extracted = sum(bool(r.get("judge_prediction_findings")) for r in empty)
    print(f"empty model outputs: {len(empty)}; GPT-4o extracted findings for {extracted}")
    for name in SUB_SCORES:
        above = sum(float(r[name]) > 0 for r in empty)  # type: ignore[arg-type]
        print(f"  {name} above 0: {above}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    asyncio.run(main(parser.parse_args().file))

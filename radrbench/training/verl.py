"""The rewards for verl users: ``compute_score`` as verl's custom reward function.

In a verl PPO/GRPO config::

    custom_reward_function:
      path: /path/to/radrbench/training/verl.py
      name: compute_score

(``python -c "import radrbench.training.verl as m; print(m.__file__)"`` prints the path)
and in the parquet rows ``reward_model.ground_truth`` (or ``extra_info["sample"]``) holding
the row's ``Sample`` as JSON (:func:`radrbench.training.rewards.sample_json`). The score is
the same weighted sum GRPO uses in radrbench (format 0.5, outcome 1.0, process 1.0 by
default; a process reward that cannot be computed adds nothing), and the dict carries every
component so verl logs them.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from radrbench.data.schema import Sample
from radrbench.training.rewards import (
    ProcessReward,
    RewardWeights,
    format_reward,
    outcome_reward,
)


@cache
def _process_reward() -> ProcessReward:
    """One judge and reference cache per worker process."""
    return ProcessReward()


def _sample(ground_truth: Any, extra_info: dict[str, Any] | None) -> Sample:
    source = (extra_info or {}).get("sample", ground_truth)
    if isinstance(source, Sample):
        return source
    if isinstance(source, str):
        return Sample.model_validate(json.loads(source))
    return Sample.model_validate(source)


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    **_: Any,
) -> dict[str, float]:
    """verl's reward: ``score`` (the weighted total) and each component.

    ``process`` is 0.0 with ``process_failed`` 1.0 when the process reward cannot be
    computed (judge failure, a sample without chain or report).
    """
    del data_source  # the sample says everything the rewards need
    sample = _sample(ground_truth, extra_info)
    weights = RewardWeights()
    result = _process_reward()(sample, solution_str)
    fmt = format_reward(solution_str)
    outcome = outcome_reward(solution_str, sample)
    process = result.reward
    score = weights.format * fmt + weights.outcome * outcome
    if process is not None:
        score += weights.process * process
    return {
        "score": score,
        "format": fmt,
        "outcome": outcome,
        "process": 0.0 if process is None else process,
        "process_failed": float(process is None),
        "guard_tripped": float(result.guard_tripped),
    }

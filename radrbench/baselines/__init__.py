"""Baseline models: the registry of ``baselines/*.yaml``, prices, and the data-use guard."""

from radrbench.baselines.cost import price_for
from radrbench.baselines.guard import check_data_use, redact
from radrbench.baselines.registry import Baseline, get_baseline, load_baselines

__all__ = ["Baseline", "check_data_use", "get_baseline", "load_baselines", "price_for", "redact"]

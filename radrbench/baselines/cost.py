"""Token prices for cost accounting; the run summary sums the tokens from the request log."""

from __future__ import annotations

from radrbench.baselines.registry import Baseline


def price_for(baseline: Baseline) -> tuple[float, float] | None:
    """USD per million (input, output) tokens; None for self-hosted models."""
    prices = baseline.prices
    if prices is None:
        return None
    return prices.input_usd_per_mtok, prices.output_usd_per_mtok

"""RadRScore judges and the registry that builds one from its spec string.

- ``offline``: the deterministic lexicon judge (default);
- ``openai:<model>[@<base_url>]``: any OpenAI-compatible endpoint.
"""

from __future__ import annotations

from radrbench.errors import ConfigError
from radrbench.metrics.judges.base import Judge

DEFAULT_JUDGE = "offline"

__all__ = ["DEFAULT_JUDGE", "Judge", "get_judge"]


def get_judge(spec: str | None = None) -> Judge:
    """Build the judge named by ``spec`` (``None`` or empty: the default offline judge)."""
    spec = (spec or DEFAULT_JUDGE).strip()
    if spec == "offline":
        from radrbench.metrics.judges.offline import OfflineJudge

        return OfflineJudge()
    if spec.startswith("openai:"):
        from radrbench.metrics.judges.llm import LLMJudge

        return LLMJudge.from_spec(spec)
    raise ConfigError(
        f"unknown judge {spec!r}",
        where="--judge",
        hint="use 'offline' or 'openai:<model>[@<base_url>]'",
    )

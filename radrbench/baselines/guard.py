"""The data-use guard, and redaction of secrets from anything written to disk.

PhysioNet's credentialed data use agreement (MIMIC-CXR, MS-CXR-T) forbids sharing the data
with third parties, which includes sending it to LLM APIs; its guidance for LLMs
(https://physionet.org/news/post/llm-responsible-use) recommends locally deployed models and,
for cloud services, zero data retention, no training on the data and no human review.
CheXpert's research use agreement (Stanford AIMI) likewise does not allow redistribution.

:func:`check_data_use` refuses to send samples from those sources to a public third-party
API unless the user acknowledges it (``--i-understand-data-use``). Azure OpenAI passes (the
service PhysioNet first recommended, with abuse monitoring opted out), and so does every
host not listed in :data:`PUBLIC_API_DOMAINS`: loopback, private networks, ``.local`` names,
and other cloud deployments the user controls. The list is a safety net for the common
mistake, not a proof that an unlisted endpoint is private.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from radrbench.data.schema import CREDENTIALED_SOURCES
from radrbench.errors import ConfigError

ACKNOWLEDGE_FLAG = "--i-understand-data-use"
GUIDANCE_URL = "https://physionet.org/news/post/llm-responsible-use"

# Public third-party inference APIs, matched as the host itself or any subdomain of it.
PUBLIC_API_DOMAINS: tuple[str, ...] = (
    "openai.com",  # OpenAI (api.openai.com)
    "anthropic.com",  # Anthropic (api.anthropic.com)
    "generativelanguage.googleapis.com",  # Google Gemini API (AI Studio keys)
    "openrouter.ai",
    "together.xyz",
    "together.ai",
    "groq.com",
    "mistral.ai",
    "deepseek.com",
    "fireworks.ai",
    "x.ai",
    "cohere.com",
    "cohere.ai",
    "perplexity.ai",
    "deepinfra.com",
    "huggingface.co",  # Inference Providers (router.huggingface.co)
    "replicate.com",
    "sambanova.ai",
    "cerebras.ai",
    "novita.ai",
    "hyperbolic.xyz",
    "moonshot.ai",
    "dashscope.aliyuncs.com",  # Alibaba Model Studio (Qwen API)
    "dashscope-intl.aliyuncs.com",
    "models.github.ai",  # GitHub Models
    "models.inference.ai.azure.com",  # GitHub Models (older address)
)
# Azure OpenAI resources: a deployment in the user's own subscription.
AZURE_OPENAI_DOMAINS: tuple[str, ...] = ("openai.azure.com", "cognitiveservices.azure.com")


def _host(endpoint_url: str) -> str:
    url = endpoint_url.strip()
    if "//" not in url:
        url = f"http://{url}"
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if not host:
        raise ConfigError(f"cannot read a host name from the endpoint {redact(endpoint_url)!r}")
    return host.rstrip(".").lower()


def _matches(host: str, domains: Iterable[str]) -> bool:
    return any(host == domain or host.endswith(f".{domain}") for domain in domains)


def check_data_use(
    sources: Iterable[str],
    endpoint_url: str,
    *,
    acknowledged: bool,
    public_api: bool | None = None,
) -> None:
    """Refuse credentialed samples bound for a public third-party API unless acknowledged.

    ``sources`` are the samples' sources; ``public_api=True`` marks the endpoint public
    whatever its host (e.g. a proxy in front of a public API); the host list applies too.
    """
    restricted = sorted({s.lower() for s in sources} & CREDENTIALED_SOURCES)
    host = _host(endpoint_url)
    if not restricted or acknowledged or _matches(host, AZURE_OPENAI_DOMAINS):
        return
    if not (public_api or _matches(host, PUBLIC_API_DOMAINS)):
        return
    raise ConfigError(
        f"refusing to send {', '.join(restricted)} samples to {host}, a public third-party "
        "API: the data use agreements of these datasets do not allow sharing them with third "
        f"parties, including LLM APIs (PhysioNet's guidance: {GUIDANCE_URL})",
        hint="serve the model locally ('radrbench serve NAME'), use a private or Azure OpenAI "
        "endpoint with zero data retention and no human review, or - if your agreement allows "
        f"this service - rerun with {ACKNOWLEDGE_FLAG}",
    )


_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    # OpenAI (sk-, sk-proj-) and Anthropic (sk-ant-) keys.
    (re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{16,}"), "sk-***"),
    # Hugging Face tokens and Google API keys.
    (re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{20,}"), "hf_***"),
    (re.compile(r"(?<![A-Za-z0-9])AIza[A-Za-z0-9_-]{30,}"), "AIza***"),
    # Authorization headers.
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{16,}"), r"\1 ***"),
    # key=value query parameters.
    (
        re.compile(
            r"(?i)([?&](?:api[_-]?key|key|access_token|token|sig|signature|code)=)[^&#\s\"']+"
        ),
        r"\1***",
    ),
    # "api-key: ...", "x-api-key=...", "api_key": "..." in headers, configs and JSON.
    (re.compile(r"(?i)((?:x-)?api[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"), r"\1***"),
    # user:password@ in URLs.
    (re.compile(r"(://)[^/\s:@]+:[^/\s@]+@"), r"\1***@"),
)


def redact(text: str) -> str:
    """``text`` with API-key-looking strings replaced by ``***``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text

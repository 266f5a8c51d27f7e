from __future__ import annotations

import pytest

from radrbench.baselines.guard import ACKNOWLEDGE_FLAG, check_data_use, redact
from radrbench.errors import ConfigError

CREDENTIALED = ["phantom", "mimic-cxr", "mimic-cxr", "ms-cxr-t"]


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1",
        "https://api.anthropic.com/v1/",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        "https://openrouter.ai/api/v1",
        "https://API.Together.xyz/v1",
        "api.groq.com/openai/v1",
        "https://router.huggingface.co/v1",
    ],
)
def test_public_api_with_credentialed_data_is_refused(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_data_use(CREDENTIALED, url, acknowledged=False)
    message = str(raised.value)
    assert "mimic-cxr, ms-cxr-t" in message and "public third-party API" in message
    assert ACKNOWLEDGE_FLAG in message and "physionet.org" in message
    assert "\n" not in message


def test_chexpert_alone_is_refused() -> None:
    with pytest.raises(ConfigError, match="chexpert"):
        check_data_use(["CheXpert"], "https://api.openai.com/v1", acknowledged=False)


def test_acknowledged_passes() -> None:
    check_data_use(CREDENTIALED, "https://api.openai.com/v1", acknowledged=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "http://localhost:8000/v1",
        "http://[::1]:8000/v1",
        "http://10.1.2.3:8000/v1",
        "http://192.168.0.7/v1",
        "http://172.16.4.2:9000/v1",
        "http://gpu-box.local:8000/v1",
        "https://my-resource.openai.azure.com/openai/v1",
        "https://my-resource.cognitiveservices.azure.com/openai/v1",
        "https://vllm.example-hospital.org/v1",
    ],
)
def test_local_private_and_azure_endpoints_pass(url: str) -> None:
    check_data_use(CREDENTIALED, url, acknowledged=False)


def test_lookalike_hosts_are_not_public() -> None:
    check_data_use(CREDENTIALED, "https://notopenai.com/v1", acknowledged=False)
    check_data_use(CREDENTIALED, "https://api.openai.com.internal/v1", acknowledged=False)


def test_declared_public_endpoint_is_refused_whatever_its_host() -> None:
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1"):
        check_data_use(
            CREDENTIALED, "http://127.0.0.1:4000/v1", acknowledged=False, public_api=True
        )
    # Declaring a listed host private does not lift the guard.
    with pytest.raises(ConfigError):
        check_data_use(
            CREDENTIALED, "https://api.openai.com/v1", acknowledged=False, public_api=False
        )


@pytest.mark.parametrize(
    "sources", [["phantom", "phantom-rsna"], ["rsna", "siim", "phantom-siim"], []]
)
def test_public_sources_always_pass(sources: list[str]) -> None:
    check_data_use(sources, "https://api.openai.com/v1", acknowledged=False, public_api=True)


def test_unreadable_endpoint_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="host name"):
        check_data_use(CREDENTIALED, "http://", acknowledged=False)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("OPENAI_API_KEY=sk-proj-AbCdEf0123456789_xyzXYZ-0123456789", "AbCdEf0123456789"),
        ('{"key": "sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUV"}', "ABCDEFGHIJKLMNOP"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("GET https://host/v1/models?api-version=2024&api_key=s3cr3tvalue&x=1", "s3cr3tvalue"),
        (
            "https://generativelanguage.googleapis.com/v1?key=AIzaSyA-0123456789abcdefghijklmnopq",
            "AIzaSy",
        ),
        ("api-key: 0123456789abcdef0123456789abcdef", "0123456789abcdef"),
        ('{"api_key": "plainsecretvalue"}', "plainsecretvalue"),
        # built from parts so that secret scanners do not flag this fake token
        ("token hf_" + "abcdefghijklmnopqrstuvwxyz012345 used", "hf_abcdefghijklmnop"),
        ("proxy https://alice:hunter2@gateway.example/v1", "hunter2"),
    ],
)
def test_redact_removes_keys(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert "***" in cleaned


def test_redact_keeps_ordinary_text() -> None:
    text = (
        "task-binary-0123456789abcdefghij risk-score-0123456789abcdefghij basic reasoning, "
        "the bearer of the tube; "
        "http://127.0.0.1:8000/v1/chat/completions model=qwen2-vl-7b tokens=1234"
    )
    assert redact(text) == text

from __future__ import annotations

import re
import shlex
import shutil
from itertools import takewhile
from pathlib import Path

import pytest

from radrbench.baselines import Baseline, get_baseline, load_baselines, price_for
from radrbench.errors import ConfigError
from radrbench.resources import resource_dir

EXPECTED = {
    "chestx-reasoner-7b",
    "chexagent-3b",
    "gpt-4o",
    "meddr-40b",
    "openai-compatible",
    "qwen2-vl-7b",
    "tiny-qwen2-vl",
}


@pytest.fixture(scope="module")
def baselines() -> dict[str, Baseline]:
    return load_baselines()


def _copy_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "baselines"
    shutil.copytree(resource_dir("baselines"), folder)
    return folder


def test_every_entry_loads(baselines: dict[str, Baseline]) -> None:
    assert set(baselines) == EXPECTED
    for name, baseline in baselines.items():
        assert baseline.name == name
        assert baseline.licence and baseline.description and baseline.commands
        assert baseline.generation.temperature == 0.0
        assert baseline.max_images >= 2
        assert baseline.generation.max_tokens > 0


def test_served_entries_have_engine_args(baselines: dict[str, Baseline]) -> None:
    for baseline in baselines.values():
        if baseline.engine == "openai":
            assert baseline.api is not None and baseline.engine_args is None
        else:
            assert baseline.engine_args is not None and baseline.served_model_name
            assert baseline.repo_id or baseline.name == "tiny-qwen2-vl"


def test_documented_server_commands_match_the_code(baselines: dict[str, Baseline]) -> None:
    """The vLLM command lines in the YAML files are exactly what server_command builds."""
    checked = 0
    for baseline in baselines.values():
        for line in baseline.commands:
            words = shlex.split(line)
            assignments = list(takewhile(lambda word: re.match(r"^[A-Z_]+=", word), words))
            env = dict(word.split("=", 1) for word in assignments)
            words = words[len(assignments) :]
            if words[1:3] != ["-m", "vllm.entrypoints.openai.api_server"]:
                continue
            assert env == baseline.server_env, baseline.name
            model = words[words.index("--model") + 1]
            built = baseline.server_command(
                8000, None if model == baseline.repo_id else model, python=words[0]
            )
            assert built == words, baseline.name
            checked += 1
    assert checked == 4


def test_vllm_command_has_image_limit_and_parallelism(baselines: dict[str, Baseline]) -> None:
    command = baselines["meddr-40b"].server_command(8123, python="python")
    assert command[:3] == ["python", "-m", "vllm.entrypoints.openai.api_server"]
    assert command[command.index("--limit-mm-per-prompt") + 1] == '{"image": 4}'
    assert command[command.index("--tensor-parallel-size") + 1] == "2"
    assert command[command.index("--port") + 1] == "8123"
    assert "--trust-remote-code" in command
    assert "--data-parallel-size" not in command


def test_local_path_and_revision(baselines: dict[str, Baseline]) -> None:
    qwen = baselines["qwen2-vl-7b"]
    pinned = qwen.server_command(8000)
    assert pinned[pinned.index("--revision") + 1] == qwen.revision
    local = qwen.server_command(8000, "/models/qwen")
    assert "--revision" not in local and local[local.index("--model") + 1] == "/models/qwen"
    with pytest.raises(ConfigError, match="no repo id"):
        baselines["tiny-qwen2-vl"].server_command(8000)


def test_transformers_command(baselines: dict[str, Baseline]) -> None:
    chexagent = baselines["chexagent-3b"].server_command(8000, python="python")
    assert chexagent[1:3] == ["-m", "radrbench.baselines.hf_server"]
    assert chexagent[chexagent.index("--max-images") + 1] == "4"
    assert "--trust-remote-code" in chexagent
    tiny = baselines["tiny-qwen2-vl"].server_command(8000, "tiny", engine="transformers")
    assert tiny[tiny.index("--dtype") + 1] == "float32" and "--limit-mm-per-prompt" not in tiny
    with pytest.raises(ConfigError, match="cannot be served with 'vllm'"):
        baselines["chexagent-3b"].server_command(8000, engine="vllm")


def test_api_entries_start_nothing(baselines: dict[str, Baseline]) -> None:
    with pytest.raises(ConfigError, match="served by its API provider"):
        baselines["gpt-4o"].server_command(8000)


def test_prices(baselines: dict[str, Baseline]) -> None:
    gpt = baselines["gpt-4o"]
    assert price_for(gpt) == (2.5, 10.0)
    assert gpt.api is not None and gpt.api.public is True
    assert price_for(baselines["qwen2-vl-7b"]) is None
    assert price_for(baselines["openai-compatible"]) is None


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        get_baseline("gpt-5-medical")
    message = str(raised.value)
    assert "gpt-5-medical" in message
    assert all(name in message for name in EXPECTED)
    assert get_baseline("gpt-4o").served_model_name == "gpt-4o-2024-08-06"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("description: [unclosed\n", "not valid YAML at line"),
        ("- a list\n", "must be a YAML mapping"),
    ],
)
def test_malformed_yaml_names_the_file(tmp_path: Path, text: str, expected: str) -> None:
    folder = _copy_folder(tmp_path)
    (folder / "broken.yaml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_baselines(folder)
    message = str(raised.value)
    assert "broken.yaml" in message and expected in message
    assert "\n" not in message


def test_invalid_field_names_file_and_field(tmp_path: Path) -> None:
    folder = _copy_folder(tmp_path)
    entry = folder / "meddr-40b.yaml"
    entry.write_text(
        entry.read_text().replace("tensor_parallel_size: 2", "tensor_parallel_size: 0")
    )
    with pytest.raises(ConfigError) as raised:
        get_baseline("meddr-40b", folder)
    message = str(raised.value)
    assert "meddr-40b.yaml: engine_args.tensor_parallel_size" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("prompt_profile: radrbench", "prompt_profile: fancy", "unknown prompt profile"),
        ("{image: 4}", "{image: 1}", "at least 2 images"),
        ("revision: null", "revision: 94dc881", "40-character"),
        ("licence: ", "licenses: ", "licence"),
    ],
)
def test_validation_rules(tmp_path: Path, old: str, new: str, expected: str) -> None:
    folder = _copy_folder(tmp_path)
    entry = folder / "meddr-40b.yaml"
    assert old in entry.read_text()
    entry.write_text(entry.read_text().replace(old, new, 1))
    with pytest.raises(ConfigError, match=expected):
        load_baselines(folder)


def test_user_guide_shows_the_same_gpu_commands(baselines: dict[str, Baseline]) -> None:
    guide = (Path(__file__).parents[2] / "docs" / "baselines.md").read_text()
    guide = re.sub(r" \\\n\s*", " ", guide)
    for baseline in baselines.values():
        if baseline.hardware.gpu_count:
            for line in baseline.commands:
                if "vllm.entrypoints" in line:
                    assert line in guide, baseline.name


def test_missing_engine_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from radrbench.baselines import serving
    from radrbench.errors import ServerError

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed in this environment")
    monkeypatch.setattr(serving, "VLLM_VENV_PYTHON", serving.VLLM_VENV_PYTHON.parent / "absent")
    with pytest.raises(ServerError, match="the vllm engine is not installed") as caught:
        serving.engine_python("vllm")
    assert "pip install vllm" in str(caught.value) and "setup_vllm_cpu.sh" in str(caught.value)

"""What a user sees when the Hub says no (gated, missing, unreachable), resumed downloads, and
baseline weights fetched at their pinned revision, against the local Hub server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from radrbench.baselines import get_baseline
from radrbench.dev.hub_server import HubServer, HubState, files_from_dir, serve_hub
from tests.conftest import run_cli
from tests.integration.test_hub import hub_env
from tests.unit.test_official_import import FIXTURES

pytestmark = [pytest.mark.server]

READER = "hf_readerTOKENofTHElocalHUBserver0123456789"


@pytest.fixture(scope="module")
def hub() -> Iterator[HubServer]:
    state = HubState(tokens={READER})
    files = files_from_dir(FIXTURES)
    state.add_repo("byrLLCC/RadRBench-CXR", files)
    state.add_repo("gated-org/licensed", files, gated=True)
    state.add_repo("private-org/hidden", files, private=True)
    with serve_hub(state) as server:
        yield server


def fetch(hub_url: HubServer, tmp_path: Path, *args: str, **env: str) -> tuple[int, str]:
    image_root = tmp_path / "images"
    image_root.mkdir(exist_ok=True)
    result = run_cli(
        "data", "fetch", "--image-root", str(image_root), "--out", str(tmp_path / "bench"),
        "--skip-missing", *args, env=hub_env(hub_url, tmp_path / "hf", **env),
    )  # fmt: skip
    assert "Traceback" not in result.stderr
    return result.returncode, " ".join(result.stderr.split())


def test_wrong_repo_id(hub: HubServer, tmp_path: Path) -> None:
    code, err = fetch(hub, tmp_path, "--repo", "byrLLCC/RadRBench-CRX")
    assert code == 2
    assert "dataset byrLLCC/RadRBench-CRX@main: no such dataset repo" in err
    assert "check the repo id (ORG/NAME)" in err


def test_wrong_revision(hub: HubServer, tmp_path: Path) -> None:
    code, err = fetch(hub, tmp_path, "--revision", "v9.9")
    assert code == 2 and "revision 'v9.9' does not exist in this repo" in err


@pytest.mark.parametrize("token", ["", READER])
def test_gated_repo_without_licence_acceptance(hub: HubServer, tmp_path: Path, token: str) -> None:
    code, err = fetch(hub, tmp_path, "--repo", "gated-org/licensed", HF_TOKEN=token)
    assert code == 2
    assert "gated and your account has not been granted access" in err
    assert f"accept its licence at {hub.url}/datasets/gated-org/licensed" in err
    assert "HF_TOKEN" in err


def test_gated_repo_after_licence_acceptance(hub: HubServer, tmp_path: Path) -> None:
    hub.state.accepted.add((READER, "gated-org/licensed"))
    code, err = fetch(hub, tmp_path, "--repo", "gated-org/licensed", HF_TOKEN=READER)
    assert code == 2 and "images not found" not in err  # got past the Hub ...
    assert "no samples were imported" in err  # ... to the importer (no images here)


def test_private_repo_needs_a_token(hub: HubServer, tmp_path: Path) -> None:
    code, err = fetch(hub, tmp_path, "--repo", "private-org/hidden")
    assert code == 2 and "(or it is private)" in err and "HF_TOKEN" in err
    code, err = fetch(hub, tmp_path, "--repo", "private-org/hidden", HF_TOKEN=READER)
    assert "no samples were imported" in err


def test_no_network(hub: HubServer, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    code, err = fetch(hub, tmp_path, HF_ENDPOINT=closed)
    assert code == 2
    assert f"{closed} cannot be reached" in err and "HF_HUB_OFFLINE=1" in err


def test_baseline_weights_at_the_pinned_revision_resume(hub: HubServer, tmp_path: Path) -> None:
    """`radrbench baselines fetch` (what `serve` runs first): sizes and free space, then a
    download that survives a dropped connection by resuming with a Range request."""
    entry = get_baseline("qwen2-vl-7b")
    assert entry.repo_id and entry.revision
    weights = bytes(range(256)) * (11 * 4096)  # 11.5 MB: more than one 10 MiB read chunk
    files = {"config.json": b"{}", "model.safetensors": weights, "pytorch_model.bin": b"old"}
    hub.state.add_repo(entry.repo_id, files, repo_type="model", sha=entry.revision)
    hub.state.drop_after = 10_600_000
    try:
        result = run_cli("baselines", "fetch", "qwen2-vl-7b", env=hub_env(hub, tmp_path / "hf"))
    finally:
        hub.state.drop_after = None
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Qwen/Qwen2-VL-7B-Instruct@{entry.revision[:12]}: 0.01 GB in all" in result.stderr
    assert "to download" in result.stderr and "free in" in result.stderr
    folder = Path(result.stdout.strip())
    assert folder.name == entry.revision
    assert (folder / "model.safetensors").read_bytes() == weights
    assert not (folder / "pytorch_model.bin").exists()  # other formats stay on the Hub
    ranges = [r for method, path, r in hub.state.requests if path.endswith("model.safetensors")]
    assert any(r and r.startswith("bytes=") and r != "bytes=0-" for r in ranges), ranges

    seen = len(hub.state.requests)
    offline = hub_env(hub, tmp_path / "hf", HF_HUB_OFFLINE="1")
    again = run_cli("baselines", "fetch", "qwen2-vl-7b", env=offline)
    assert again.returncode == 0, again.stderr[-3000:]
    assert Path(again.stdout.strip()) == folder and len(hub.state.requests) == seen
    cold = run_cli("baselines", "fetch", "qwen2-vl-7b", env={**offline, "HF_HOME": str(tmp_path)})
    assert cold.returncode == 2 and "HF_HUB_OFFLINE=1 forbids downloading" in cold.stderr

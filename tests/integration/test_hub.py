"""The Hub round trip as a new user runs it, against the local Hub server (``HF_ENDPOINT``):
``data fetch`` → ``eval`` → ``leaderboard add/build/push``, then a fresh cache ``pull``s the
dataset and rebuilds the same leaderboard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from radrbench.dev.hub_server import HubServer, HubState, files_from_dir, serve_hub
from radrbench.dev.mock_openai import MockConfig, serve_mock
from tests.conftest import mock_eval_args, run_cli
from tests.unit.test_official_import import FIXTURES, IMAGES

pytestmark = [pytest.mark.server, pytest.mark.slow]

REPO = "byrLLCC/RadRBench-CXR"
RESULTS_REPO = "radr-org/radrbench-results"
TOKEN = "hf_writeTOKENforTHElocalHUBserver0123456789"
TASKS = "radrbench_mimic_binary,radrbench_chexpert_multi_open,radrbench_mscxrt_temporal"
REPLIES = {
    "model-a": "<think>There is a small left pleural effusion. The heart is enlarged.</think>"
    "<answer>A</answer>",
    "model-b": "<think>The lungs are clear. No effusion.</think><answer>B</answer>",
}


def _reply(request: dict[str, Any]) -> str:
    return REPLIES[str(request["model"])]


def hub_env(hub: HubServer, home: Path, **extra: str) -> dict[str, str]:
    """A user's environment pointing at the local Hub, with its own Hugging Face cache."""
    return {
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_TOKEN": "",
        **extra,
    }


@dataclass
class RoundTrip:
    hub: HubServer
    root: Path
    commit: str
    bench: Path
    image_root: Path


@pytest.fixture(scope="module")
def hub() -> Iterator[HubServer]:
    state = HubState(tokens={TOKEN})
    with serve_hub(state) as server:
        yield server


@pytest.fixture(scope="module")
def round_trip(hub: HubServer, tmp_path_factory: pytest.TempPathFactory) -> RoundTrip:
    root = tmp_path_factory.mktemp("hub")
    commit = hub.state.add_repo(REPO, files_from_dir(FIXTURES))
    image_root = root / "physionet"
    for rel in IMAGES:
        (image_root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (16, 16), 90).save(image_root / rel, format="JPEG")
    env = hub_env(hub, root / "hf-a")
    bench = root / "bench"
    fetched = run_cli(
        "data", "fetch", "--image-root", str(image_root), "--out", str(bench), env=env
    )
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    assert f"at {commit}" in fetched.stdout
    runs = []
    with serve_mock(MockConfig(responder=_reply)) as model_server:
        for name in REPLIES:
            out = root / "runs" / name
            args = mock_eval_args(model_server.base_url, bench, out, 5, "--tasks", TASKS)
            args[args.index("mock-model")] = name
            result = run_cli(*args, "--judge", "offline", env=env)
            assert result.returncode == 0, result.stderr[-3000:]
            runs.append(out)
    results = root / "results"
    assert run_cli("leaderboard", "add", *map(str, runs), "--results", str(results)).returncode == 0
    built = run_cli("leaderboard", "build", "--results", str(results), "--out", str(root / "site"))
    assert built.returncode == 0, built.stderr[-3000:]
    return RoundTrip(hub, root, commit, bench, image_root)


def test_fetch_records_the_pinned_commit(round_trip: RoundTrip) -> None:
    manifest = json.loads((round_trip.bench / "manifest.json").read_text())
    hub = manifest["generator"]["hub"]
    assert hub["repo_id"] == REPO and hub["revision"] == "main"
    assert hub["commit"] == round_trip.commit
    assert sorted(hub["files"]) == [
        "chexpert_multi_test_no_option.json",
        "mimic_binary_test_option.json",
        "temporal_cls_test_option.json",
    ]  # the test files only: reason_train/ is left on the Hub


def test_push_then_a_fresh_cache_rebuilds_the_same_leaderboard(round_trip: RoundTrip) -> None:
    root, state = round_trip.root, round_trip.hub.state
    env = hub_env(round_trip.hub, root / "hf-a", HF_TOKEN=TOKEN)
    state.pushed.clear()
    pushed = run_cli(
        "leaderboard", "push", "--repo", RESULTS_REPO, "--results", str(root / "results"),
        "--private", env=env,
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr[-3000:]
    assert f"dataset {RESULTS_REPO}" in pushed.stdout
    assert state.repos[("dataset", RESULTS_REPO)].private

    # The upload set: the card and, per run, exactly what the leaderboard reads.
    (paths,) = state.pushed
    per_run = {"summary.json", "config.json", "outcomes.json", "provenance.json"}
    expected = {"README.md"} | {f"results/{run}/{name}" for run in REPLIES for name in per_run}
    judgments = {p for p in paths if "/judgments/" in p}
    assert set(paths) - judgments == expected
    assert {p.rsplit("/", 2)[0] for p in judgments} == {f"results/{run}" for run in REPLIES}
    assert not [p for p in paths if p.lower().endswith((".png", ".jpg", ".jpeg", ".dcm"))]
    sent = state.repos[("dataset", RESULTS_REPO)].commits
    content = b"".join(next(reversed(sent.values())).values())
    for item in json.loads((FIXTURES / "mimic_binary_test_option.json").read_text()):
        assert item["original_report"].encode() not in content  # credentialed text stays
    assert TOKEN.encode() not in content

    # A second machine: an empty cache pulls the dataset and builds the same leaderboard.
    fresh = hub_env(round_trip.hub, root / "hf-b", HF_TOKEN=TOKEN)
    pulled = run_cli(
        "leaderboard", "pull", "--repo", RESULTS_REPO, "--results", str(root / "results-b"),
        env=fresh,
    )  # fmt: skip
    assert pulled.returncode == 0, pulled.stderr[-3000:]
    assert "pulled 2 runs" in pulled.stdout
    site_b = root / "site-b"
    rebuilt = run_cli(
        "leaderboard", "build", "--results", str(root / "results-b"), "--out", str(site_b)
    )
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    site_a = root / "site"
    tables = sorted(p.relative_to(site_a) for p in (site_a / "tables").rglob("*") if p.is_file())
    assert tables
    for table in tables:
        assert (site_b / table).read_text() == (site_a / table).read_text(), table
    provenance_a = json.loads((site_a / "provenance.json").read_text())
    assert json.loads((site_b / "provenance.json").read_text())["runs"] == provenance_a["runs"]


def test_sites_and_datasets_record_where_numbers_came_from(round_trip: RoundTrip) -> None:
    record = json.loads((round_trip.root / "site" / "provenance.json").read_text())
    assert [run["model"] for run in record["runs"]] == list(REPLIES)
    run = record["runs"][0]
    assert run["radrbench_version"] and run["lm_eval_version"]
    assert run["benchmark"]["name"] == "radrbench-cxr" and run["benchmark"]["version"]
    assert run["benchmark"]["source"]["hub"]["commit"] == round_trip.commit
    assert run["judge"]["spec"] == "offline" and run["judge"]["version"]
    (command,) = run["commands"]  # the command line as run, recorded by the run itself
    assert command.startswith("radrbench eval --endpoint ")
    assert f"--tasks {TASKS}" in command and command.endswith("--judge offline")
    assert run["commands_note"].startswith("as run")
    card = round_trip.hub.state.repos.get(("dataset", RESULTS_REPO))
    if card is not None:  # pushed by the round trip above
        readme = next(reversed(card.commits.values()))["README.md"].decode()
        assert f"{REPO}@{round_trip.commit[:12]}" in readme and "offline" in readme


def test_the_site_goes_to_a_static_space_and_to_a_folder(
    round_trip: RoundTrip, tmp_path: Path
) -> None:
    root, state = round_trip.root, round_trip.hub.state
    env = hub_env(round_trip.hub, root / "hf-a", HF_TOKEN=TOKEN)
    space, folder = "radr-org/leaderboard", tmp_path / "www"
    pushed = run_cli(
        "leaderboard", "push", "--repo", RESULTS_REPO, "--results", str(root / "results"),
        "--site", str(root / "site"), "--space", space, "--site-to", str(folder), env=env,
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr[-3000:]
    files = next(reversed(state.repos[("space", space)].commits.values()))
    site = {p.relative_to(root / "site").as_posix() for p in (root / "site").rglob("*")}
    assert {"index.html", "provenance.json"} <= set(files) <= site | {"README.md", ".gitattributes"}
    assert b"sdk: static" in files["README.md"]
    assert (folder / "index.html").read_bytes() == (root / "site" / "index.html").read_bytes()
    lonely = run_cli("leaderboard", "push", "--repo", RESULTS_REPO, "--site", str(root / "site"))
    assert lonely.returncode == 2 and "--site needs a place to go" in lonely.stderr


def test_a_secret_in_a_result_stops_the_push(round_trip: RoundTrip, tmp_path: Path) -> None:
    import shutil

    results = tmp_path / "results"
    shutil.copytree(round_trip.root / "results", results)
    config = results / "model-a" / "config.json"
    leaked = json.loads(config.read_text())
    leaked["note"] = "key sk-proj-abcdefghijklmnopqrstuvwxyz0123"
    config.write_text(json.dumps(leaked))
    before = len(round_trip.hub.state.pushed)
    env = hub_env(round_trip.hub, round_trip.root / "hf-a", HF_TOKEN=TOKEN)
    refused = run_cli(
        "leaderboard", "push", "--repo", "radr-org/leaky", "--results", str(results), env=env
    )
    assert refused.returncode == 2
    assert "results/model-a/config.json: holds an OpenAI-style API key" in refused.stderr
    assert "sk-proj" not in refused.stderr and "Traceback" not in refused.stderr
    assert len(round_trip.hub.state.pushed) == before
    assert ("dataset", "radr-org/leaky") not in round_trip.hub.state.repos


def test_push_without_a_token_is_refused(round_trip: RoundTrip) -> None:
    env = hub_env(round_trip.hub, round_trip.root / "hf-a")
    results = str(round_trip.root / "results")
    refused = run_cli("leaderboard", "push", "--repo", "radr-org/x", "--results", results, env=env)
    assert refused.returncode == 2, refused.stderr
    assert "token is missing, invalid or lacks permission" in refused.stderr
    assert "HF_TOKEN" in refused.stderr and "Traceback" not in refused.stderr


def test_offline_fetch_reads_the_cache(round_trip: RoundTrip, tmp_path: Path) -> None:
    root = round_trip.root
    offline = {**hub_env(round_trip.hub, root / "hf-a"), "HF_HUB_OFFLINE": "1"}
    args = ["data", "fetch", "--image-root", str(round_trip.image_root), "--out"]
    again = run_cli(*args, str(tmp_path / "b"), "--revision", round_trip.commit, env=offline)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (tmp_path / "b" / "samples.jsonl").read_bytes() == (
        round_trip.bench / "samples.jsonl"
    ).read_bytes()
    empty = {**offline, "HF_HOME": str(tmp_path / "empty-cache")}
    missing = run_cli(*args, str(tmp_path / "c"), env=empty)
    assert missing.returncode == 2
    assert "not in the local Hugging Face cache and HF_HUB_OFFLINE=1" in missing.stderr
    assert "Traceback" not in missing.stderr

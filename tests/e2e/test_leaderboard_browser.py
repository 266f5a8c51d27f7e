"""The leaderboard site in a real browser: Debian's chromium driven by Playwright opens the
built site from a static server on 127.0.0.1 (and from disk), sorts a column, opens a model
page, and saves screenshots. Locally the test is skipped without chromium or Playwright; in
CI (``CI=true``) it fails instead, so CI cannot pass without running it."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from radrbench.leaderboard import add_runs, build_leaderboard
from radrbench.leaderboard.synthetic import write_run

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(180)]

EVIL = "<script>alert(1)</script> & co"
GPT = ("openai:gpt-4o-2024-08-06", "prompts-1")
OFFLINE = ("offline", "lexicon-1")


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not installed")


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing("Debian's chromium (apt-get install -y chromium)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    runs = [
        write_run(
            root / "runs" / f"run-{i}",
            model=name,
            skill=skill,
            reasoning=reasoning,
            judges=[GPT, OFFLINE],
            n=40,
        )
        for i, (name, skill, reasoning) in enumerate(
            [("alpha", 0.9, 0.7), (EVIL, 0.6, 0.5), ("gamma", 0.62, 0.52), ("delta", 0.3, 0.2)]
        )
    ]
    add_runs(runs, root / "results")
    build_leaderboard(root / "results", root / "site", reported_path=None)
    return root / "site"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright Python package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            launched.close()


def _header(page: Any, table: str, label: str) -> Any:
    """The sort button of a column (by its text: the sort arrow is CSS, not text)."""
    labels = page.locator(f"#{table} thead th").all_text_contents()
    index = [text.strip() for text in labels].index(label)
    return page.locator(f"#{table} thead th").nth(index).locator("button")


def _column(page: Any, table: str, label: str) -> list[str | None]:
    return list(
        page.evaluate(
            """([table, label]) => {
                const t = document.querySelector(`#${table} table`);
                const heads = Array.from(t.tHead.rows[0].cells);
                const index = heads.findIndex(h => h.textContent.trim() === label);
                return Array.from(t.tBodies[0].rows, r => r.cells[index].getAttribute("data-sort"));
            }""",
            [table, label],
        )
    )


def test_sort_open_a_model_page_and_nothing_from_elsewhere(
    browser: Any, server: str, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    page.on(
        "dialog", lambda dialog: (problems.append("dialog: " + dialog.message), dialog.dismiss())
    )

    page.goto(server + "index.html")
    assert page.title() == "overall · radrbench leaderboard"
    header = _header(page, "table-1", "accuracy")
    header.click()  # scores: highest first
    values = [float(v) for v in _column(page, "table-1", "accuracy") if v is not None]
    assert len(values) == 4 and values == sorted(values, reverse=True)
    assert page.locator("#table-1 thead th[aria-sort=descending]").count() == 1
    header.click()
    values = [float(v) for v in _column(page, "table-1", "accuracy") if v is not None]
    assert values == sorted(values)
    _header(page, "table-1", "model").click()
    names = _column(page, "table-1", "model")
    assert names == sorted(names, key=lambda name: (name or "").lower())
    page.screenshot(path=str(tmp_path / "index.png"), full_page=True)  # lays out every plot
    page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=10_000)
    images = page.evaluate("Array.from(document.images, i => i.naturalWidth)")
    assert len(images) == 2 and all(width > 0 for width in images)

    page.get_by_role("link", name=EVIL).first.click()
    page.wait_for_load_state()
    assert page.url == server + "models/run-1.html"
    assert page.locator("h1").inner_text() == EVIL  # the name renders as text
    assert page.locator("text=prompt profile").count() >= 1
    page.screenshot(path=str(tmp_path / "model.png"), full_page=True)
    page.get_by_role("link", name="radrbench_phantom_binary").first.click()
    page.wait_for_load_state()
    assert page.url.startswith(server + "tasks/radrbench_phantom_binary.html")

    assert (tmp_path / "index.png").stat().st_size > 10_000
    assert (tmp_path / "model.png").stat().st_size > 10_000
    assert all(url.startswith(server) for url in requests), [
        url for url in requests if not url.startswith(server)
    ]
    assert not problems, problems
    page.close()


def test_the_site_opens_from_disk(browser: Any, site: Path) -> None:
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto((site / "index.html").as_uri())
    # Plots are loading="lazy": bring the first into view, then it must load from disk.
    page.locator("img").first.scroll_into_view_if_needed()
    page.wait_for_function("document.images[0].complete", timeout=10_000)
    assert page.evaluate("Array.from(document.images, i => i.naturalWidth)")[0] > 0
    _header(page, "table-1", "RadRScore").click()
    values = [float(v) for v in _column(page, "table-1", "RadRScore") if v is not None]
    assert values == sorted(values, reverse=True)
    assert not problems, problems
    page.close()

"""The web view in a real browser (Debian's Chromium, driven by Playwright): the page, the
live chart of a call through `proxy --web`, the filter over 10,000 calls, resend, the token."""

from __future__ import annotations

import json
import re
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.procs import PY_CLIENT, ROOT, Proc, demo_server, py_client, running
from tests.web_helpers import write_calls

CHROMIUM = shutil.which("chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")
playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One Chromium for the module's tests: each test has a fresh context of its own."""
    with playwright_sync.sync_playwright() as play:
        launched = play.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser(chromium: Any) -> Iterator[Any]:
    """A browser context of the test's own (no cookies, storage or pages of another test)."""
    # bypass_csp: the page forbids eval, which wait_for_function needs (the page never evals)
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    try:
        yield context
    finally:
        context.close()


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, errors


def web_url(proc: Proc) -> str:
    return proc.wait_for_line(r"web view at (http://127\.0\.0\.1:\d+/\?token=\S+)").group(1)


def status(url: str, **headers: str) -> int:
    """The status of a plain GET, with no browser in the way."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def test_no_token_is_403_and_the_page_loads_clean(browser: Any, tmp_path: Path) -> None:
    recording = tmp_path / "calls.yaml"
    write_calls(recording, 30)
    args = [sys.executable, "-m", "mcp_tap", "web", str(recording), "--web-max-events", "100"]
    with running(args, cwd=ROOT) as proc:
        url = web_url(proc)
        base = url.split("/?")[0]
        token = url.split("token=")[1]
        assert status(base + "/") == 403
        assert status(base + "/api/events") == 403
        assert status(base + "/api/calls?token=wrong") == 403
        assert status(f"{base}/api/calls?token={token}", host="evil.example:80") == 403
        assert status(f"{base}/api/calls?token={token}", origin="http://evil.example") == 403
        assert status(f"{base}/api/calls?token={token}") == 200
        page, errors = open_page(browser, url)
        page.wait_for_selector("#list .row")
        # 5 events a call: past 100 the oldest calls went, and the page says how many
        shown = int(page.locator("#matches").inner_text().removesuffix(" calls"))
        note = page.locator("#dropped").inner_text()
        assert note == f"{30 - shown} older calls dropped (--web-max-events)" and shown <= 20
        assert page.locator('#list .row[data-n="30"]').count() == 1
        shot(page, "web-recording.png")
        assert errors == []


def test_the_filter_finds_one_call_among_10000(browser: Any, tmp_path: Path) -> None:
    recording = tmp_path / "many.yaml"
    write_calls(recording, 10_000)
    with running([sys.executable, "-m", "mcp_tap", "web", str(recording)], cwd=ROOT) as proc:
        page, errors = open_page(browser, web_url(proc))
        page.wait_for_function("document.getElementById('matches').textContent === '10000 calls'")
        page.locator("#list").evaluate("l => l.scrollTop = 5000 * 24")  # deep in the list
        page.wait_for_selector('#list .row[data-n="5001"]')
        page.fill("#f-text", "needle")
        page.wait_for_function(
            "document.getElementById('matches').textContent === '1 of 10000 calls'"
        )
        page.click('#list .row[data-n="7777"]')
        page.wait_for_selector("#detail h3")
        assert "call 7777: tools/call echo" in page.locator("#detail h3").first.inner_text()
        assert "needle-in-the-haystack" in page.locator("#detail").inner_text()
        shot(page, "web-filter.png")
        assert errors == []


def test_a_live_call_charts_its_progress_and_resends(browser: Any, tmp_path: Path) -> None:
    with demo_server(step_delay=0.2) as base:
        target = base + "/mcp"
        args = [
            sys.executable,
            "-m",
            "mcp_tap",
            "proxy",
            "--target",
            target,
            "--port",
            "0",
            "--web",
            "--no-record",
        ]
        with running(args, cwd=tmp_path) as proxy:
            url = web_url(proxy)
            client_url = proxy.wait_for_line(r"point your client at (\S+)").group(1)
            page, errors = open_page(browser, url)
            page.wait_for_selector("#spacer", state="attached")
            client = Proc(
                [
                    sys.executable,
                    str(PY_CLIENT),
                    client_url,
                    "--tool",
                    "download_file",
                    "--args",
                    json.dumps({"filename": "big.iso", "size_mb": 20}),
                ]
            )
            try:
                page.wait_for_selector(".stream canvas[data-points]", timeout=20_000)
                page.wait_for_function(
                    "Number(document.querySelector('.stream canvas').dataset.points) >= 3",
                    timeout=20_000,
                )
                first = int(page.locator(".stream canvas").get_attribute("data-points"))
                page.wait_for_function(
                    f"Number(document.querySelector('.stream canvas').dataset.points) > {first}",
                    timeout=20_000,
                )
                moved = int(page.locator(".stream canvas").get_attribute("data-points"))
                # the chart moved while the call still ran: the server sends 20 points
                assert first < moved < 20
                shot(page, "web-live.png")
                assert client.finish(60) == 0
            finally:
                client.stop()
            page.fill("#f-tool", "download_file")
            page.wait_for_function(
                "/^1 of \\d+ calls$/.test(document.getElementById('matches').textContent)"
            )
            page.locator("#list .row").first.click()
            page.wait_for_selector("#resend-params")
            edited = json.loads(page.input_value("#resend-params"))  # _meta and all
            assert edited["arguments"] == {"filename": "big.iso", "size_mb": 20}
            edited["arguments"] = {"filename": "small.bin", "size_mb": 2}
            page.fill("#resend-params", json.dumps(edited))
            page.click("#resend-btn")
            page.wait_for_selector("#resend-diff, #resend-result .error", timeout=30_000)
            assert page.locator("#resend-result .error").count() == 0, page.locator(
                "#resend-result"
            ).inner_text()
            received = page.locator("#resend-received").inner_text()
            assert "Downloaded small.bin (2 MB)" in received
            diff = page.locator("#resend-diff").inner_text()
            assert re.search(r"changed result\.content\[0\]\.text", diff), diff
            shot(page, "web-resend.png")
            assert errors == []


def test_serve_web_shows_a_client_s_call_live_and_says_where_resend_works(
    browser: Any,
) -> None:
    recording = ROOT / "recordings" / "download_file-handshake.yaml"
    args = [sys.executable, "-m", "mcp_tap", "serve", str(recording), "--port", "0", "-q", "--web"]
    with running(args, cwd=ROOT) as proc:
        url = web_url(proc)
        target = proc.wait_for_line(r"point your client at (\S+)").group(1)
        page, errors = open_page(browser, url)
        page.wait_for_selector("#list")
        arguments = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.05}
        events = py_client(target, "legacy", "download_file", arguments)
        assert any(e["event"] == "result" for e in events)
        row = page.locator("#list .row", has_text="download_file")
        row.first.wait_for(timeout=20_000)  # reached the open page over its event stream
        row.first.click()
        page.wait_for_selector("#detail h3")
        detail = page.locator("#detail").inner_text()
        assert "resend goes to a live server (proxy --web, stdio --web" in detail
        assert page.locator("#resend-btn").count() == 0
        shot(page, "web-serve.png")
        assert errors == []

"""`mcp-tap report`: one self-contained HTML page; opened in headless Chromium when present."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mcp_tap.export.report import render_report, script_json
from mcp_tap.protocol.events import MessageSeen
from mcp_tap.recording.reader import load_recording
from tests.export_sample import HOSTILE, write_odd_recording
from tests.samples import SAMPLES

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", "report", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )


def progress_counts(path: Path) -> dict[str, int]:
    """Progress notifications per token (as the page writes it: JSON), from the recording."""
    counts: dict[str, int] = {}
    for event in load_recording(path).events:
        if isinstance(event, MessageSeen) and event.message.method == "notifications/progress":
            token = json.dumps(event.message.payload["params"]["progressToken"])
            counts[token] = counts.get(token, 0) + 1
    return counts


class _Page(HTMLParser):
    """What the rendered DOM holds: body attributes, points per chart, tags seen."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.points: dict[str, int] = {}
        self.tags: set[str] = set()
        self.title = ""
        self._chart: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.add(tag)
        if tag == "body":
            self.body = values
        if tag == "div" and "data-token" in values:
            self._chart = values["data-token"]
            self.points.setdefault(self._chart or "", 0)
        if tag == "circle" and values.get("class") == "pt" and self._chart is not None:
            self.points[self._chart] += 1
        self._in_title = tag == "title" and not self.points and not self.body

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False


def test_recorded_text_cannot_close_the_data_script() -> None:
    text = script_json({"x": HOSTILE + "<!-- \u2028 &amp;"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"x": HOSTILE + "<!-- \u2028 &amp;"}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_every_sample_renders_one_page_with_no_outside_reference(sample: Path) -> None:
    page = render_report(load_recording(sample))
    assert page.startswith("<!DOCTYPE html>") and page.count("<script") == 2
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "default-src 'none'" in page  # the browser itself refuses any fetch


def test_report_command_escapes_recorded_text(tmp_path: Path) -> None:
    recording = tmp_path / "odd.yaml"
    write_odd_recording(recording)
    out = tmp_path / "report.html"
    done = report(str(recording), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    page = out.read_text(encoding="utf-8")
    assert HOSTILE not in page and "<img" not in page and "<script>document" not in page
    assert "\\u003c/script\\u003e" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [(["missing.yaml", "-o", "x.html"], "no such file"), (["README.md", "-o", "x.html"], "")],
)
def test_report_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = report(*args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("mcp-tap: ")
    assert message in done.stderr and "Traceback" not in done.stderr


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [CHROMIUM, *CHROME_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
@pytest.mark.parametrize(
    "name",
    ["download_file-handshake", "process_data-2026-07-28", "install_package-handshake", "odd"],
)
def test_chromium_renders_the_report_without_errors(tmp_path: Path, name: str) -> None:
    source = tmp_path / "odd.yaml" if name == "odd" else ROOT / "recordings" / f"{name}.yaml"
    if name == "odd":
        write_odd_recording(source)
    page = tmp_path / f"{name}.html"
    done = report(str(source), "-o", str(page))
    assert done.returncode == 0, done.stderr

    dumped = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    console = [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # no error, no CSP violation, no log
    dom = _Page()
    dom.feed(dumped.stdout)
    assert dom.body.get("data-rendered") == "1" and dom.body.get("data-errors") == "0"
    assert dom.points == progress_counts(source)  # one point per notification, per token
    assert "img" not in dom.tags and "pwned" not in dom.title

    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1280, 800):
        shot = ARTIFACTS / f"report-{name}-{width}.png"
        shot.unlink(missing_ok=True)
        taken = _chromium(
            tmp_path, f"--window-size={width},1600", f"--screenshot={shot}", page.as_uri()
        )
        assert taken.returncode == 0, taken.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

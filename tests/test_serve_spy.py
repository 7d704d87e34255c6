"""Spy mode: `serving_recording(upstream=...)` and `serve --upstream` answer what the
recording holds and forward the rest to the demo server, learning it with `record_misses`."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_tap.recording.reader import load_recording
from mcp_tap.serve import serving_recording
from mcp_tap.serve.interactions import recorded_server
from tests.procs import ROOT, Proc, demo_server, running

pytestmark = pytest.mark.timeout(90)

STATELESS = ROOT / "recordings" / "download_file-2026-07-28.yaml"
HANDSHAKE = ROOT / "recordings" / "download_file-handshake.yaml"
RECORDED = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.05}
UNRECORDED = {"filename": "notes.txt", "size_mb": 2, "step_delay": 0.01}


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    with demo_server(step_delay=0.01) as base_url:
        yield base_url + "/mcp"


def run(coroutine: Coroutine[Any, Any, None], seconds: float = 60) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(seconds):
            await coroutine

    asyncio.run(bounded())


async def texts_and_progress(
    url: str, mode: str, calls: list[dict[str, Any]]
) -> tuple[list[str], list[list[float]]]:
    texts: list[str] = []
    progress: list[list[float]] = []
    kwargs: dict[str, Any] = {"mode": mode} if mode != "auto" else {}
    async with Client(url, **kwargs) as client:
        for arguments in calls:
            seen: list[float] = []

            async def on_progress(
                value: float, total: float | None, text: str | None, seen: list[float] = seen
            ) -> None:
                seen.append(value)

            result = await client.call_tool(
                "download_file", arguments, progress_callback=on_progress
            )
            texts.append(str(result.content[0].text))  # type: ignore[union-attr]
            progress.append(seen)
    return texts, progress


def calls_in(path: Path) -> list[dict[str, Any]]:
    interactions = recorded_server([(path.name, load_recording(path).events)]).interactions
    return [i.request["params"]["arguments"] for i in interactions if i.method == "tools/call"]


@pytest.mark.parametrize(("recording", "mode"), [(STATELESS, "auto"), (HANDSHAKE, "legacy")])
def test_a_miss_is_forwarded_learnt_and_appended(
    tmp_path: Path, demo: str, recording: Path, mode: str
) -> None:
    path = tmp_path / recording.name
    shutil.copy(recording, path)
    original = path.read_text()

    async def main() -> None:
        async with serving_recording(path, fast=True, upstream=demo, record_misses=True) as mock:
            texts, progress = await texts_and_progress(
                mock.url, mode, [RECORDED, UNRECORDED, UNRECORDED]
            )
            assert texts == [
                "Downloaded report.pdf (5 MB)",  # from the recording
                "Downloaded notes.txt (2 MB)",  # from the demo server
                "Downloaded notes.txt (2 MB)",  # learnt: from the recording again
            ]
            assert progress == [[1, 2, 3, 4, 5], [1, 2], [1, 2]]
        assert mock.report.forwarded == ["tools/call"]
        assert mock.report.learnt == 1
        assert not mock.report.misses

    run(main())
    assert path.read_text().startswith(original)  # appended to, never rewritten
    assert calls_in(path) == [RECORDED, UNRECORDED]

    async def offline() -> None:  # the learnt call is served without the server
        async with serving_recording(path, fast=True) as mock:
            texts, _ = await texts_and_progress(mock.url, mode, [UNRECORDED])
            assert texts == ["Downloaded notes.txt (2 MB)"]
        assert not mock.report.misses

    run(offline())


def test_without_record_misses_the_recording_is_left_alone(tmp_path: Path, demo: str) -> None:
    path = tmp_path / STATELESS.name
    shutil.copy(STATELESS, path)
    before = path.read_text()

    async def main() -> None:
        async with serving_recording(path, fast=True, upstream=demo) as mock:
            texts, _ = await texts_and_progress(mock.url, "auto", [UNRECORDED])
            assert texts == ["Downloaded notes.txt (2 MB)"]
        assert mock.report.forwarded == ["tools/call"] and mock.report.learnt == 0

    run(main())
    assert path.read_text() == before


def test_record_misses_without_an_upstream_is_refused() -> None:
    async def main() -> None:
        async with serving_recording(STATELESS, record_misses=True):
            pass

    with pytest.raises(ValueError, match="--record-misses needs --upstream"):
        run(main())


def test_the_cli_forwards_misses_and_says_so_in_its_summary(tmp_path: Path, demo: str) -> None:
    path = tmp_path / STATELESS.name
    shutil.copy(STATELESS, path)
    args = [sys.executable, "-m", "mcp_tap", "serve", str(path), "--port", "0", "-q", "--fast"]
    with running([*args, "--upstream", demo, "--record-misses"], cwd=ROOT) as proc:
        url = proc.wait_for_line(r"point your client at (\S+)").group(1)
        proc.wait_for_line(rf"forwarding misses to {demo}, appending them to the recording")

        async def main() -> None:
            texts, _ = await texts_and_progress(url, "auto", [RECORDED, UNRECORDED])
            assert texts == ["Downloaded report.pdf (5 MB)", "Downloaded notes.txt (2 MB)"]

        run(main())
        proc.stop()
        assert proc.finish(10) == 0
    assert "forwarded to the upstream: 1 requests, 1 appended to the recording" in proc.stderr
    assert calls_in(path) == [RECORDED, UNRECORDED]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--record-misses"], "--record-misses needs --upstream"),
        (["--upstream", "ftp://x/mcp"], "--upstream must be an http(s) URL"),
        (["--upstream", "http://127.0.0.1:9/mcp", "--command", "x"], "give one"),
        (["--command", ""], "--command is empty"),
        (["--command", "x 'y", "--stdio"], '--command "x \'y": No closing quotation'),
        (["--upstream", "http://127.0.0.1:9/mcp", "--upstream-timeout", "0"], "above 0"),
    ],
    ids=["record-misses-alone", "bad-url", "both", "empty-command", "bad-quote", "bad-timeout"],
)
def test_bad_spy_options_exit_2_with_one_line(args: list[str], says: str) -> None:
    command = [sys.executable, "-m", "mcp_tap", "serve", str(STATELESS), "--port", "0", *args]
    proc = Proc(command, cwd=ROOT)
    assert proc.finish(30) == 2
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1

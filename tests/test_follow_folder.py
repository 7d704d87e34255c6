"""`mcp-tap show --follow DIR`: every recording a host's launches write, in one live view.

The host is played by the MCP SDK's stdio client launching a wrapped entry (`mcp-tap stdio
--record DIR/{name}-{time}-{pid}.yaml --host-entry demo -- python -m demo_server --stdio`)
twice; the follower runs in a real terminal (tmux) and the test reads its screen.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from mcp_tap.protocol.events import ExchangeClosed, ExchangeOpened, Fault
from mcp_tap.recording.merge import ExchangeNumbers, Labels, Relabel, server_name
from mcp_tap.recording.writer import RecordingWriter, StdioOrigin
from tests.procs import ROOT, running
from tests.test_follow import progress_event
from tests.test_view_terminal import Tmux

pytestmark = pytest.mark.timeout(120)
needs_tmux = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (apt-get install -y tmux)"
)


def wrapped_entry(folder: Path) -> list[str]:
    """The command line `hosts wrap` gives a host for its `demo` entry."""
    pattern = str(folder / "{name}-{time}-{pid}.yaml")
    return [
        *("-m", "mcp_tap", "stdio", "--record", pattern, "--host-entry", "demo", "--"),
        *(sys.executable, "-m", "demo_server", "--stdio"),
    ]


async def launch_and_download(folder: Path, filename: str) -> str:
    """One launch of the wrapped entry, as a host makes it: a tool call with progress."""
    params = StdioServerParameters(command=sys.executable, args=wrapped_entry(folder), cwd=ROOT)
    arguments = {"filename": filename, "size_mb": 3, "step_delay": 0.05}
    with anyio.fail_after(60):
        async with Client(params) as client:
            result = await client.call_tool(
                "download_file", arguments, progress_callback=lambda *_: anyio.sleep(0)
            )
    content = result.content[0]
    assert content.type == "text"
    return content.text


@pytest.fixture
def follower_in_tmux(tmp_path: Path) -> Iterator[tuple[Tmux, Path]]:
    folder = tmp_path / "recordings"
    clean = "env -u NO_COLOR -u COLUMNS -u LINES"
    follow = f"{sys.executable} -m mcp_tap show --follow {folder}/"
    tmux = Tmux(f'cd {ROOT} && {clean} {follow}; echo "exit=$?"; sleep 30', 150)
    try:
        yield tmux, folder
    finally:
        tmux.kill()


@needs_tmux
def test_two_launches_of_one_entry_show_in_one_view_each_line_labelled(
    follower_in_tmux: tuple[Tmux, Path],
) -> None:
    tmux, folder = follower_in_tmux
    tmux.wait_for(lambda s: f"waiting for {folder} to appear" in s, 10)
    assert anyio.run(launch_and_download, folder, "first.iso") == "Downloaded first.iso (3 MB)"
    assert anyio.run(launch_and_download, folder, "second.iso") == "Downloaded second.iso (3 MB)"
    assert len(list(folder.glob("demo-*.yaml"))) == 2  # a file per launch

    def both_sessions(screen: str) -> bool:
        return all(
            re.search(
                rf"{label}\s+result\s+tools/call\s+#\d+ in [\d.]+ s Downloaded {name}", screen
            )
            for label, name in (("demo ", "first.iso"), ("demo#2", "second.iso"))
        )

    screen = tmux.wait_for(both_sessions, 20)
    assert re.search(r"demo\s+request tools/call\s+#\d+\s+⟳ \d+\s+download_file", screen)
    assert re.search(r"demo#2\s+request tools/call\s+#\d+\s+⟳ \d+\s+download_file", screen)
    assert re.search(r"demo#2\s+notify\s+notifications/progress\s+⟳ \d+\s+3/3", screen)
    assert len(re.findall(r"✔\s+⟳ \d+\s+download_file ━+ 100%\s+3 updates", screen)) == 2
    assert "exit=" not in screen  # it waits for the next launch

    tmux.keys("C-c")
    final = tmux.wait_for(lambda s: "exit=" in s, 10)
    assert "no findings" in final
    assert re.search(r"tools/call\s+2\s+0\s+0\s+\d", final)  # both sessions in one summary
    assert re.search(r"demo#2\s+\d+\s+download_file\s+3\s+3/3", final)
    assert "exit=0" in final


def stdio_writer(path: Path, entry: str) -> RecordingWriter:
    return RecordingWriter(path, None, stdio=StdioOrigin(["my-server"], (), entry))


def test_finished_recordings_are_left_out_open_and_new_ones_shown_whole(tmp_path: Path) -> None:
    done = stdio_writer(tmp_path / "a-done.yaml", "old")
    done.handle(progress_event(1))
    done.close()
    open_ = stdio_writer(tmp_path / "b-open.yaml", "github")
    open_.handle(ExchangeOpened(1, 0.0, "STDIO", "my-server", (), None))
    open_.handle(progress_event(1))
    args = [sys.executable, "-m", "mcp_tap", "show", "--follow", str(tmp_path), "--jsonl"]
    with running(args) as proc:
        proc.wait_for_line(
            r"following every recording in .*: 1 being written, 1 finished ones not shown"
        )
        first = json.loads(proc.wait_for_line(r'"type": ?"message"', timeout=10).string)
        assert first["session_id"] == "github" and first["exchange_id"] == 1
        (tmp_path / "notes.yaml").write_text("hello: 1\n...\n")
        proc.wait_for_line(r"not following .*notes\.yaml: not an mcp-tap recording")
        relaunch = stdio_writer(tmp_path / "c-new.yaml", "github")
        relaunch.handle(ExchangeOpened(1, 0.0, "STDIO", "my-server", (), None))
        relaunch.handle(progress_event(2))
        line = proc.wait_for_line(r'"session_id": ?"github#2"', timeout=10).string
        second = json.loads(line)
        assert second["exchange_id"] == 2  # each file's exchange 1 kept apart
        relaunch.handle(ExchangeClosed(1, 0.5, "host-closed"))
        relaunch.close()
        open_.close()
        proc.popen.send_signal(signal.SIGINT)
        assert proc.finish(timeout=10) == 0
    assert not any('"old"' in line for line in proc.lines)  # the finished one: not shown


def test_since_now_on_a_finished_file_says_so_and_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "done.yaml"
    writer = stdio_writer(path, "demo")
    writer.handle(progress_event(1))
    writer.close()
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "show", "--follow", str(path), "--since-now"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert done.stdout == ""  # no summary of an empty session
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"mcp-tap: {path} is finished: ")
    assert "nothing more will be written" in line and "no MCP requests" not in line


def test_max_follow_must_be_positive(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "show", "--follow", str(tmp_path), "--max-follow", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and done.stderr == "mcp-tap: --max-follow must be at least 1\n"


def test_each_file_s_events_are_relabelled_apart() -> None:
    labels, numbers = Labels(), ExchangeNumbers()
    headers = [STDIO_HEADER, {"command": ["/usr/bin/uvx", "x"]}, HTTP_HEADER]
    names = [server_name(h) for h in headers]
    assert names == ["github", "uvx", "127.0.0.1"]
    first = Relabel(labels.label("github"), numbers, shift=2.0)
    again = Relabel(labels.label("github"), numbers)
    http = Relabel(labels.label("127.0.0.1"), numbers)
    opened = ExchangeOpened(1, 0.5, "STDIO", "x", (), None)
    assert first(opened) == ExchangeOpened(1, 2.5, "STDIO", "x", (), "github")
    assert again(opened).exchange_id == 2 and again(opened).session_id == "github#2"
    assert http(ExchangeOpened(1, 0.0, "POST", "/mcp", (), "s-1")).session_id == "127.0.0.1/s-1"
    fault = again(Fault(1.0, 1, "server-exit", "exit 1"))
    assert fault == Fault(1.0, 2, "server-exit", "[github#2] exit 1")


STDIO_HEADER = {"command": ["npx", "gh"], "host_entry": "github"}
HTTP_HEADER = {"target": "http://127.0.0.1:8000/mcp"}


def test_over_max_follow_the_next_recording_waits_for_a_place(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "mcp_tap", "show", "--follow", str(tmp_path), "--jsonl"]
    with running([*args, "--max-follow", "1"]) as proc:
        proc.wait_for_line(r"following every recording in ")
        first, second = (stdio_writer(tmp_path / f"{n}.yaml", n) for n in ("a", "b"))
        first.handle(progress_event(1))
        second.handle(progress_event(2))
        proc.wait_for_line(r"1 recordings are being followed \(--max-follow\): the next ones wait")
        assert '"a"' in proc.wait_for_line(r'"type": ?"message"', timeout=10).string
        first.close()
        line = proc.wait_for_line(r'"type": ?"message"', timeout=10).string
        assert json.loads(line)["session_id"] == "b"  # its place came: shown from its start
        second.close()
        proc.popen.send_signal(signal.SIGINT)
        assert proc.finish(timeout=10) == 0

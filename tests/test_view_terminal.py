"""A screenshot of the live view in a real terminal: `mcp-tap proxy` running inside tmux.

A real client drives the demo server's download_file slowly through the proxy while the test
reads the tmux pane, the way a person would look at the screen.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "tests" / "clients" / "py_client.py"
BAR = re.compile(r"⟳ (\d+)\s+download_file demo\.iso: \d+/12 MB\s+━+[╸╺━ ]*\s+(\d+)% (\d+)/12")

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(
        shutil.which("tmux") is None, reason="tmux is not installed (apt-get install -y tmux)"
    ),
]


class Tmux:
    """A private tmux server (its own socket) with one pane running `command`."""

    def __init__(self, command: str, width: int = 150) -> None:
        self.socket = f"mcp-tap-test-{os.getpid()}-{width}"
        self._run("new-session", "-d", "-s", "view", "-x", str(width), "-y", "45", command)

    def _run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=5
        )
        return done.stdout

    def screen(self, joined: bool = True) -> str:
        """What the pane shows now (wrapped lines joined, unless `joined` is False)."""
        return self._run("capture-pane", "-p", *(["-J"] if joined else []), "-t", "view")

    def keys(self, *keys: str) -> None:
        self._run("send-keys", "-t", "view", *keys)

    def wait_for(self, found: Callable[[str], object], seconds: float) -> str:
        """Poll the screen until `found(screen)` is true; return that screen."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            screen = self.screen()
            if found(screen):
                return screen
            time.sleep(0.1)
        size = self._run("display", "-p", "-t", "view", "#{pane_width}x#{pane_height}")
        raise AssertionError(f"not seen within {seconds} s ({size}); the screen:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=5)


def start_proxy(width: int) -> Tmux:
    # The test is about the colored view at the pane's real size, whatever the caller's
    # environment says (pytest runs can carry COLUMNS=80, which rich would obey).
    clean = "env -u NO_COLOR -u COLUMNS -u LINES"
    command = f"cd {ROOT} && {clean} {sys.executable} -m mcp_tap proxy --port 0 --no-record"
    return Tmux(command + "; sleep 20", width)  # keep the pane after exit, to read the summary


@pytest.fixture
def proxy_in_tmux() -> Iterator[Tmux]:
    tmux = start_proxy(150)
    try:
        yield tmux
    finally:
        tmux.kill()


@pytest.fixture
def proxy_in_80_columns() -> Iterator[Tmux]:
    tmux = start_proxy(80)
    try:
        yield tmux
    finally:
        tmux.kill()


def download(url: str) -> subprocess.Popen[str]:
    arguments = '{"filename": "demo.iso", "size_mb": 12, "step_delay": 0.25}'
    return subprocess.Popen(
        [sys.executable, str(CLIENT), url, "--tool", "download_file", "--args", arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_live_progress_bar_is_visible_in_a_real_terminal(proxy_in_tmux: Tmux) -> None:
    tmux = proxy_in_tmux
    screen = tmux.wait_for(lambda s: re.search(r"point your client at (\S+/mcp)", s), 8)
    url = re.search(r"point your client at (\S+/mcp)", screen)[1]  # type: ignore[index]
    client = download(url)
    try:
        running = tmux.wait_for(BAR.search, 8)
        bar = BAR.search(running)
        assert bar is not None
        percent, done = int(bar[2]), int(bar[3])
        assert 0 < percent < 100 and percent == round(done * 100 / 12)
        assert re.search(r"request tools/call\s+#\d+\s+⟳ \d+\s+download_file", running)
        output, _ = client.communicate(timeout=10)
    finally:
        if client.poll() is None:
            client.kill()
    assert '"event": "result"' in output
    finished = tmux.wait_for(lambda s: "✔" in s, 3)
    assert re.search(r"✔\s+⟳ \d+\s+download_file ━+ 100%\s+12 updates in", finished)
    tmux.keys("C-c")
    final = tmux.wait_for(lambda s: "no findings" in s, 5)
    assert re.search(r"tools/call\s+1\s+0\s+0\s+\d", final)


NARROW_BAR = re.compile(r"^ ⟳ (\d+)\s+download_file demo\.iso: \d+/1.*━.* (\d+)% (\d+)/12")


def test_at_80_columns_every_line_fits_and_bars_do_not_wrap(proxy_in_80_columns: Tmux) -> None:
    tmux = proxy_in_80_columns
    screen = tmux.wait_for(lambda s: re.search(r"point your client at (\S+/mcp)", s), 8)
    url = re.search(r"point your client at (\S+/mcp)", screen)[1]  # type: ignore[index]
    client = download(url)
    try:
        # unjoined: a bar that wrapped would have its numbers on the next pane line
        running = tmux.wait_for(
            lambda s: any(NARROW_BAR.search(line) for line in s.splitlines()), 8
        )
        bar = next(m for line in running.splitlines() if (m := NARROW_BAR.search(line)))
        assert 0 < int(bar[2]) < 100 and int(bar[2]) == round(int(bar[3]) * 100 / 12)
        output, _ = client.communicate(timeout=10)
    finally:
        if client.poll() is None:
            client.kill()
    assert '"event": "result"' in output
    finished = tmux.wait_for(lambda s: "✔" in s, 3)
    assert re.search(r"✔\s+⟳ \d+\s+download_file ━+ 100%\s+12 updates in", finished)
    assert re.search(r"result  tools/call #\d+ in \d\.\d+ s Downloaded demo\.iso", finished)
    tmux.keys("C-c")
    tmux.wait_for(lambda s: "no findings" in s, 5)
    final = tmux.screen(joined=False)
    lines = final.splitlines()
    headers = [line for line in lines if re.match(r"\s+(method|token) ", line)]
    assert headers and not any("…" in line for line in headers)  # no header is cut
    assert re.search(r"^\s+tools/call\s+1\s+0\s+0\s+\d+\.\d+ s", final, re.MULTILINE)
    row = next(line for line in lines if re.match(r"^\s+\d+\s+.*download_file", line))
    assert row.rstrip().endswith("completed")  # the whole row on one line

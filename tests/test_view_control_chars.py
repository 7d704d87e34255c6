"""Terminal control sequences in recorded or live text are shown, never obeyed.

A tool's name, a result's text, a progress message, a header, a finding: all come from a
server or a client, and all reach the terminal. A real terminal (tmux) shows `mcp-tap show`
and the live `mcp-tap proxy` view of text holding a window-title OSC, a screen clear, an OSC 52
clipboard write and an 8-bit CSI: the window keeps its title, the screen its lines, the
clipboard stays empty, and the person sees the sequences as escapes (`\\x1b]0;...`). Piped
output holds no control character at all, only line ends.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_tap.view.visible import visible, visible_block
from tests.misbehaving_server import HOSTILE
from tests.procs import PY_CLIENT, Proc, run_client
from tests.test_view_terminal import Tmux

ROOT = Path(__file__).resolve().parents[1]
SHOWN = r"\x1b]0;TITLE\x07\x1b[2J\x1b]52;c;aGFja2Vk\x07\x9b31m"  # HOSTILE, as it must look
TOOL = "hostile_text" + HOSTILE + "[/nope]"  # and rich markup that would not even parse
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # anything but the line end

pytestmark = pytest.mark.timeout(60)

needs_tmux = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (apt-get install -y tmux)"
)

# The committed recordings' format, with the hostile text in YAML's own escapes (the file
# itself holds no control character: YAML would not allow one).
RECORDING = """\
# mcp-tap recording: one YAML document per tap event, see docs/recording-format.md
---
format: mcp-tap-recording
version: 1
mcp_tap_version: "0.1.0"
target: "http://127.0.0.1:39891/mcp{H}"
started: "2026-11-26T10:46:26.356923Z"
redaction:
  builtin: true
  headers: []
  fields: []
...
---
type: exchange-opened
exchange_id: 1
time: 0.01
method: POST
target: "/mcp"
headers:
  - [content-type, application/json]
  - [x-note, "{H}"]
...
---
type: message
exchange_id: 1
time: 0.01
direction: "client->server"
stream: request-body
message:
  kind: request
  json:
    jsonrpc: "2.0"
    id: 2
    method: tools/call
    params:
      name: "hostile_text{H}[/nope]"
      arguments: {note: "{H}"}
      _meta: {progressToken: "tok{H}"}
...
---
type: response-started
exchange_id: 1
time: 0.02
status: 200
headers:
  - [content-type, text/event-stream]
  - [x-reply, "{H}"]
stream: post-sse
...
---
type: message
exchange_id: 1
time: 0.03
direction: "server->client"
stream: post-sse
message:
  kind: notification
  json:
    jsonrpc: "2.0"
    method: notifications/progress
    params: {progressToken: "tok{H}", progress: 1, total: 2, message: "step {H}"}
...
---
type: message
exchange_id: 1
time: 0.04
direction: "server->client"
stream: post-sse
message:
  kind: invalid
  raw: "not json {H}"
  problem: "not JSON: Expecting value"
...
---
type: message
exchange_id: 1
time: 0.05
direction: "server->client"
stream: post-sse
message:
  kind: response
  json:
    jsonrpc: "2.0"
    id: 2
    result:
      content: [{type: text, text: "result {H} end"}]
...
---
type: finding
time: 0.05
severity: warning
rule: "odd-rule{H}"
detail: "a finding about {H}"
exchange_id: 1
...
---
type: fault
time: 0.06
exchange_id: 1
kind: upstream-reset
detail: "a fault about {H}"
...
---
type: exchange-closed
exchange_id: 1
time: 0.06
reason: complete
bytes_to_client: 100
...
""".replace("{H}", SHOWN)


@pytest.fixture
def hostile_recording(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.yaml"
    path.write_text(RECORDING, encoding="utf-8")
    return path


def mcp_tap(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=30,
        env={**os.environ, "NO_COLOR": "1"},
        cwd=ROOT,
    )


def no_controls(text: str) -> None:
    found = CONTROL.search(text)
    assert found is None, f"raw {found.group()!r} at {found.start()}: {text[:2000]!r}"


# --- the function ---------------------------------------------------------------------------


def test_visible_escapes_every_c0_c1_and_del_and_keeps_the_rest() -> None:
    assert visible(HOSTILE) == SHOWN
    assert visible("a\nb\tc\r") == r"a\x0ab\x09c\x0d"
    assert visible("\x00\x7f\x80\x9f\xa0é⟳") == r"\x00\x7f\x80\x9f" + "\xa0é⟳"
    assert visible_block("a\nb\tc\x1b") == "a\nb\tc" + r"\x1b"
    assert visible(visible(HOSTILE)) == visible(HOSTILE)  # a second pass changes nothing
    for code in [*range(0x20), *range(0x7F, 0xA0)]:
        assert CONTROL.search(visible(chr(code))) is None


# --- piped: no control character at all -------------------------------------------------------


@pytest.mark.parametrize(
    "flags", [(), ("-v",), ("--exchange", "1")], ids=["lines", "verbose", "exchange"]
)
def test_show_piped_prints_the_sequences_as_escapes(
    hostile_recording: Path, flags: tuple[str, ...]
) -> None:
    done = mcp_tap("show", *flags, hostile_recording)
    assert done.returncode == 0, done.stderr
    no_controls(done.stdout)
    no_controls(done.stderr)
    assert "Traceback" not in done.stderr
    if flags == ("--exchange", "1"):  # the bodies as JSON: C0 in JSON's escapes, C1 in ours
        assert r'"note": "\u001b]0;TITLE\u0007\u001b[2J\u001b]52;c;aGFja2Vk\u0007\x9b31m"' in (
            done.stdout
        )
        assert "x-note:" in done.stdout and r"\x1b]52;c;" in done.stdout
        return
    assert f"result {SHOWN} end" in done.stdout
    summary = done.stdout[done.stdout.index("mcp-tap summary") :]
    assert "a finding about" in summary and "a fault about" in summary
    assert "hostile_text" + SHOWN[:10] in summary
    assert "hostile_text" + SHOWN + "[/nope]" in done.stdout  # markup shown, not parsed


def test_show_jsonl_is_json_with_its_own_escapes(hostile_recording: Path) -> None:
    done = mcp_tap("show", "--jsonl", hostile_recording)
    assert done.returncode == 0, done.stderr
    no_controls(done.stdout)
    no_controls(done.stderr)
    events = [json.loads(line) for line in done.stdout.splitlines()]
    texts = [e["message"]["json"]["result"]["content"][0]["text"] for e in events if "json" in
             e.get("message", {}) and "result" in e["message"]["json"]]  # fmt: skip
    assert texts == [f"result {HOSTILE} end"]  # the data itself is kept exactly


def test_an_error_quoting_a_recorded_value_is_one_escaped_line(tmp_path: Path) -> None:
    missing = tmp_path / f"gone{HOSTILE}.yaml"
    done = mcp_tap("show", missing)
    assert done.returncode == 2
    no_controls(done.stderr)
    assert done.stderr.count("\n") == 1 and SHOWN in done.stderr


# --- a real terminal ---------------------------------------------------------------------------


class GatedTmux(Tmux):
    """A tmux pane (a private server) whose command starts once the test has set what makes
    an obeyed sequence show: OSC 52 accepted into a paste buffer, window titles allowed."""

    def __init__(self, command: str, width: int = 220) -> None:  # not Tmux's: the gate first
        self.socket = f"mcp-tap-ctl-{os.getpid()}-{next(PANES)}"
        gated = f"tmux -L {self.socket} wait-for go; {command}; sleep 30"
        self._run("new-session", "-d", "-s", "view", "-x", str(width), "-y", "50", gated)
        self._run("set-option", "-g", "set-clipboard", "on")
        self._run("set-option", "-g", "allow-set-title", "on")  # tmux >= 3.4; else the default
        self._run("wait-for", "-S", "go")

    def title(self) -> str:
        return self._run("display", "-p", "-t", "view", "#{pane_title}").strip()

    def buffers(self) -> str:
        return self._run("list-buffers")


PANES = itertools.count()


@pytest.fixture
def terminal() -> Iterator[list[GatedTmux]]:
    panes: list[GatedTmux] = []
    try:
        yield panes
    finally:
        for pane in panes:
            pane.kill()


def in_terminal(panes: list[GatedTmux], command: str) -> GatedTmux:
    clean = "env -u NO_COLOR -u COLUMNS -u LINES"
    pane = GatedTmux(f"cd {ROOT} && {clean} {sys.executable} -m mcp_tap {command}")
    panes.append(pane)
    return pane


def untouched(pane: GatedTmux, title_before: str) -> None:
    assert pane.title() == title_before != "TITLE"
    assert "aGFja2Vk" not in pane.buffers() and pane.buffers().strip() == ""


@needs_tmux
def test_show_in_a_real_terminal_shows_escapes_and_obeys_none(
    terminal: list[GatedTmux], hostile_recording: Path
) -> None:
    pane = in_terminal(terminal, f"show {hostile_recording}")
    screen = pane.wait_for(lambda s: "no findings" in s or "Findings" in s, 15)
    untouched(pane, pane.title())
    assert screen.lstrip().startswith(str(hostile_recording))  # not cleared by ESC [2J
    assert f"result {SHOWN} end" in screen
    assert "a finding about" in screen and "[/nope]" in screen


@needs_tmux
def test_proxy_live_view_in_a_real_terminal_shows_escapes_and_obeys_none(
    terminal: list[GatedTmux],
) -> None:
    server = Proc([sys.executable, str(ROOT / "tests" / "misbehaving_server.py"), "--port", "0"])
    try:
        target = server.wait_for_line(r"misbehaving server: (\S+)").group(1)
        pane = in_terminal(terminal, f"proxy --port 0 --no-record --target {target}")
        first = pane.wait_for(lambda s: re.search(r"point your client at (\S+/mcp)", s), 10)
        title = pane.title()
        url = re.search(r"point your client at (\S+/mcp)", first)[1]  # type: ignore[index]
        events = run_client([sys.executable, str(PY_CLIENT), url, "--tool", TOOL], timeout=30)
        assert any(e.get("event") == "result" for e in events)
        screen = pane.wait_for(lambda s: "result " + SHOWN[:20] in s, 10)
        untouched(pane, title)
        assert "point your client at" in screen  # not cleared
        pane.keys("C-c")
        final = pane.wait_for(lambda s: "mcp-tap summary" in s, 10)
        untouched(pane, title)
        assert "hostile_text" in final
    finally:
        server.stop()


def test_proxy_live_view_piped_holds_no_control_character(tmp_path: Path) -> None:
    server = Proc([sys.executable, str(ROOT / "tests" / "misbehaving_server.py"), "--port", "0"])
    proxy: Proc | None = None
    try:
        target = server.wait_for_line(r"misbehaving server: (\S+)").group(1)
        proxy = Proc(
            [sys.executable, "-m", "mcp_tap", "proxy", "--port", "0", "--no-record"]
            + ["--target", target, "-v"],
            cwd=tmp_path,
        )
        url = proxy.wait_for_line(r"point your client at (\S+/mcp)").group(1)
        events = run_client([sys.executable, str(PY_CLIENT), url, "--tool", TOOL], timeout=30)
        assert any(e.get("event") == "result" for e in events)
        proxy.wait_for_line(re.escape(f"result {SHOWN} end"))
        proxy.popen.send_signal(signal.SIGINT)
        assert proxy.finish(timeout=20) == 0
    finally:
        if proxy is not None:
            proxy.stop()
        server.stop()
    output = "\n".join(proxy.lines)
    no_controls(output)
    no_controls(proxy.stderr)
    assert "mcp-tap summary" in output and "[/nope]" in output

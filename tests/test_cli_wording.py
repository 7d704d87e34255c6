"""What the commands say about themselves, checked on real processes: help texts that match
what happens, no fault lines for what is normal, and a start-up URL that survives 80 columns.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_tap.recording.reader import load_recording
from tests.procs import ROOT, Proc, py_client, running
from tests.test_view_terminal import Tmux

pytestmark = pytest.mark.timeout(120)

SAMPLE = ROOT / "recordings" / "download_file-handshake.yaml"
RECORDED_CALL = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.05}


def mcp_tap(*args: str, cwd: Path = ROOT, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", *args],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=cwd,
        input=stdin,
    )


def words(text: str) -> str:
    """Help text with its wrapping undone."""
    return " ".join(text.split())


def test_stdio_help_offers_no_header_flag_and_names_the_file_it_writes(tmp_path: Path) -> None:
    helped = words(mcp_tap("stdio", "--help").stdout)
    assert "--redact-header" not in helped
    assert "--redact-field" in helped and "--no-redact" in helped
    said = "(default: recordings/<UTC time>-stdio-<program>.yaml under the current directory)"
    assert said in helped
    assert "--redact-header" in words(mcp_tap("proxy", "--help").stdout)  # HTTP has headers

    server = [sys.executable, "-m", "demo_server", "--stdio"]
    # stdin ends at once: a short session; a loaded machine may take seconds to start the
    # server, which must not be ended by --grace before it has seen its EOF
    ran = mcp_tap("stdio", "--grace", "60", "--", *server, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    program = re.escape(Path(sys.executable).name)
    written = [p.name for p in (tmp_path / "recordings").iterdir()]
    assert len(written) == 1 and re.fullmatch(
        rf"\d{{8}}T\d{{6}}Z-stdio-{program}\.yaml", written[0]
    )
    assert f"recording to recordings/{written[0]}" in ran.stderr

    refused = mcp_tap("stdio", "--redact-header", "x-key", "--", *server, cwd=tmp_path)
    assert refused.returncode == 2 and "--redact-header" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("command", ["show", "replay", "serve", "export", "report"])
def test_a_recording_argument_is_any_mcp_tap_recording(command: str) -> None:
    helped = words(mcp_tap(command, "--help").stdout)
    assert "written by `mcp-tap proxy`" not in helped
    assert "recording (from proxy, stdio, serve --record, replay --record or the pytest" in (
        helped.replace("recordings (", "recording (")
    )


def test_serve_says_nothing_of_the_get_stream_it_declines(tmp_path: Path) -> None:
    record = tmp_path / "mock.yaml"
    args = [sys.executable, "-m", "mcp_tap", "serve", str(SAMPLE), "--port", "0"]
    with running([*args, "--record", str(record)], cwd=tmp_path) as serve:
        url = serve.wait_for_line(r"point your client at (\S+)").group(1)
        events = py_client(url, "legacy", "download_file", RECORDED_CALL)
        serve.wait_for_line(r"result\s+tools/call")
        serve.popen.terminate()
        serve.finish(timeout=30)
    assert [e["event"] for e in events][-1] == "result"
    said = "\n".join(serve.lines)
    assert "HTTP 405" not in said and "ERROR" not in said
    # the client did open the standalone stream, and the mock declined it
    assert any(getattr(e, "method", None) == "GET" for e in load_recording(record).events), (
        "the client never asked for the GET stream"
    )
    verbose = mcp_tap("show", str(record), "-v")
    assert "HTTP 405 GET /mcp (no standalone stream offered; allowed)" in verbose.stdout


def test_a_replay_that_ends_its_stdio_server_reports_no_fault() -> None:
    # A server that outlives its stdin, as many do: the replay ends it with SIGTERM.
    server = shlex.join([sys.executable, "-m", "demo_server", "--stdio"])
    lingering = shlex.join(["sh", "-c", f"{server}; exec sleep 60"])
    proc = Proc(
        [sys.executable, "-m", "mcp_tap", "replay", str(SAMPLE), "--fast", "--command", lingering]
    )
    code = proc.finish(timeout=90)
    said = "\n".join(proc.lines) + proc.stderr
    assert code == 0, said
    assert "replay matched: all 3 requests behaved the same" in said
    assert "Faults" not in said and "server-terminated" not in said and "server-exit" not in said


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_at_80_columns_the_start_up_url_is_whole_on_one_line() -> None:
    clean = "env -u NO_COLOR -u COLUMNS -u LINES"
    command = f"cd {ROOT} && {clean} {sys.executable} -m mcp_tap proxy --port 0 --no-record"
    tmux = Tmux(command + "; sleep 20", 80)
    try:
        screen = tmux.wait_for(lambda s: "forwarding to" in s, 10)
        lines = tmux.screen(joined=False).splitlines()  # as the pane shows them, unjoined
        url = next(line for line in lines if "point your client at" in line)
        assert re.fullmatch(r"\s*point your client at http://127\.0\.0\.1:\d+/mcp\s*", url), screen
        assert all(len(line) <= 80 for line in lines)
        assert re.search(r"^mcp-tap listening on http://127\.0\.0\.1:\d+$", screen, re.M)
        tmux.keys("C-c")
        tmux.wait_for(lambda s: "mcp-tap summary" in s, 10)
    finally:
        tmux.kill()

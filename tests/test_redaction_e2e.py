"""No secret is written in clear, anywhere: recordings, the console, stderr, exports, reports.

Each secret is a distinct random string planted in one of the forms hosts and clients really
use: a stdio server's command line (`-H "Authorization: Bearer X"`, `--bearer X`, URLs with
`?api_key=X`, `API_KEY=X`...), its environment, the proxy's `--target`, the query strings and
headers of a real client's requests (reverse and forward proxy), and tool arguments named by
`--redact-field`. Then `show`, `export` and `report` run on every recording, and no byte of
any file under the test's directory nor of any captured output may hold a secret.

Each way in (stdio, reverse proxy, forward proxy) is a test of its own, so that pytest-xdist
can run them side by side.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from demo_server.runner import demo_server_thread
from tests.procs import ROOT, Proc, py_client
from tests.test_live_otlp import otlp_receiver

pytestmark = pytest.mark.timeout(120)

# --redact-field paths that hide a tool argument, and where the demo server repeats it
FIELDS = (
    "params.arguments.filename",
    "params.message",
    "result.content.*.text",
    "result.structuredContent.result",
)
ACCEPT = {"accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


class Secrets(dict[str, str]):
    """form -> a random string that appears nowhere else."""

    def __missing__(self, form: str) -> str:
        value = self[form] = f"zq{secrets.token_hex(12)}"
        return value


def mcp_tap(*args: str) -> list[str]:
    return [sys.executable, "-m", "mcp_tap", *args]


def redact_fields() -> list[str]:
    return [word for path in FIELDS for word in ("--redact-field", path)]


# --- stdio ------------------------------------------------------------------------------------


def stdio_server_args(s: Secrets) -> list[str]:
    """The demo server in stdio mode, started with a command line full of secrets it ignores."""
    start = (
        "import runpy, sys; sys.argv = ['demo_server', '--stdio']; "
        "runpy.run_module('demo_server', run_name='__main__', alter_sys=True)"
    )
    return [
        sys.executable,
        "-c",
        start,
        "https://mcp.example.invalid/mcp",
        "-H",
        f"Authorization: Bearer {s['-H']}",
        "--header",
        f"Authorization:Bearer {s['--header']}",
        f"--header=X-Api-Key:{s['--header=']}",
        "--bearer",
        s["--bearer"],
        "--key",
        s["--key"],
        "--pat",
        s["--pat"],
        f"https://mcp.example.invalid/sse?api_key={s['url api_key']}&page=2",
        f"--token={s['--token=']}",
        "--api-key",
        s["--api-key"],
        "--password",
        s["--password"],
        "--secret",
        s["--secret"],
        "--client-secret",
        s["--client-secret"],
        f"API_KEY={s['API_KEY=']}",
        f"https://user:{s['userinfo']}@mcp.example.invalid/",
    ]


async def _stdio_session(tmp_path: Path, s: Secrets) -> Any:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    record = tmp_path / "stdio.yaml"
    errors = tmp_path / "stdio-stderr.txt"
    tapped = mcp_tap("stdio", "--record", str(record), *redact_fields(), "--")
    # mcp-tap's stderr (and the server's) into a file the test reads: the SDK passes it on
    command = ["sh", "-c", 'exec "$@" 2>"$0"', str(errors), *tapped, *stdio_server_args(s)]
    env = {**os.environ, "MY_SERVICE_TOKEN": s["environment"]}
    params = StdioServerParameters(command=command[0], args=command[1:], cwd=str(ROOT), env=env)
    arguments = {"filename": s["tool argument"], "size_mb": 2, "step_delay": 0.01}
    with anyio.fail_after(60):
        async with Client(params) as client:
            result = await client.call_tool("download_file", arguments)
    return result.model_dump(mode="json")


def run_stdio(tmp_path: Path, s: Secrets) -> None:
    result = anyio.run(_stdio_session, tmp_path, s)
    assert s["tool argument"] in json.dumps(result)  # the server really got it, and answered


# --- HTTP: reverse and forward proxy ----------------------------------------------------------


def query(s: Secrets, mode: str) -> str:
    names = ("api_key", "key", "sig", "apikey", "token", "api-key", "Access_Token", "code")
    return "&".join(f"{name}={s[f'{mode} ?{name}']}" for name in names) + "&page=2"


def stop(proc: Proc, outputs: list[str]) -> None:
    proc.popen.send_signal(signal.SIGINT)
    assert proc.finish(timeout=30) == 0, proc.stderr
    outputs.extend([*proc.lines, proc.stderr])


def run_reverse_proxy(tmp_path: Path, s: Secrets, base: str, outputs: list[str]) -> None:
    target = f"{base}/mcp?api_key={s['--target ?api_key']}"
    with otlp_receiver() as (collector, received):
        args = ["proxy", "--port", "0", "--target", target, "--record", str(tmp_path / "rp.yaml")]
        args += ["-v", "--otlp-endpoint", collector, *redact_fields()]
        proc = Proc(mcp_tap(*args), cwd=tmp_path)
        try:
            listening = proc.wait_for_line(r"listening on (\S+) - point your client at (\S+)")
            url = f"{listening.group(1)}/mcp?{query(s, 'reverse')}"
            arguments = {"filename": s["reverse tool argument"], "size_mb": 2, "step_delay": 0.01}
            events = py_client(url, "legacy", "download_file", arguments)
            assert any(s["reverse tool argument"] in json.dumps(e) for e in events)
            headers = {**ACCEPT, "authorization": f"Bearer {s['reverse Authorization']}"}
            headers["x-api-key"] = s["reverse X-Api-Key"]
            httpx2.post(url, json=INITIALIZE, headers=headers, timeout=20)
        finally:
            stop(proc, outputs)
        with received.lock:
            outputs.extend(
                str(r.SerializeToString(), "utf-8", "replace") for r in received.requests
            )
        assert received.requests, "the live OTLP exporter sent nothing"


def run_forward_proxy(tmp_path: Path, s: Secrets, base: str, outputs: list[str]) -> None:
    args = ["proxy", "--forward", "--port", "0", "--ca-dir", str(tmp_path / "ca")]
    args += ["--record", str(tmp_path / "fw.yaml"), "--jsonl"]
    proc = Proc(mcp_tap(*args), cwd=tmp_path)
    try:
        proxy = proc.wait_for_line(r"forward proxy listening on (\S+)").group(1)
        headers = {**ACCEPT, "authorization": f"Bearer {s['forward Authorization']}"}
        with httpx2.Client(proxy=proxy, trust_env=False, timeout=20) as http:
            http.post(f"{base}/mcp?{query(s, 'forward')}", json=INITIALIZE, headers=headers)
    finally:
        stop(proc, outputs)


# --- the tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    """The demo server the two proxies reach: its base URL."""
    with demo_server_thread(step_delay=0.01) as base:
        yield base


def show_export_report(recording: Path, outputs: list[str]) -> None:
    """Run every command that reads `recording`, each writing its file beside it."""
    stem = recording.with_suffix("")
    for command in (
        ["show", str(recording)],
        ["show", str(recording), "-v"],
        ["show", str(recording), "--exchange", "1"],
        ["show", str(recording), "--call", "1"],
        ["show", str(recording), "--jsonl"],
        # HAR holds HTTP exchanges: a stdio recording is refused (exit 2), not exported
        ["export", str(recording), "--format", "har" if recording.stem != "stdio" else "otlp"]
        + ["-o", f"{stem}.har"],
        ["export", str(recording), "--format", "jsonl", "-o", f"{stem}.jsonl"],
        ["export", str(recording), "--format", "otlp", "-o", f"{stem}.otlp.json"],
        ["report", str(recording), "-o", f"{stem}.html"],
    ):
        done = subprocess.run(
            mcp_tap(*command), capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        outputs.extend([done.stdout, done.stderr])
    for suffix in (".har", ".jsonl", ".otlp.json", ".html"):
        assert Path(f"{stem}{suffix}").is_file(), suffix


def assert_no_secret(directory: Path, s: Secrets, outputs: list[str]) -> None:
    """No file under `directory` and no output holds any of `s`'s values."""
    assert len(set(s.values())) == len(s)
    for path in [p for p in directory.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        leaked = [form for form, value in s.items() if value.encode() in data]
        assert not leaked, f"{path.relative_to(directory)} holds the secrets of {leaked}"
    for text in outputs:
        leaked = [form for form, value in s.items() if value in text]
        assert not leaked, f"an output holds the secrets of {leaked}: {text[:2000]}"


def test_no_secret_of_a_stdio_server_reaches_any_file_or_output(tmp_path: Path) -> None:
    s = Secrets()
    outputs: list[str] = []
    run_stdio(tmp_path, s)
    recording = tmp_path / "stdio.yaml"
    show_export_report(recording, outputs)

    # Not vacuous: the secrets' places are there, marked.
    stdio = recording.read_text()
    assert "Authorization: Bearer <redacted:authorization>" in stdio
    assert "api_key=<redacted:api_key>" in stdio
    assert "MY_SERVICE_TOKEN" in stdio
    assert "tools/call" in stdio
    assert (tmp_path / "stdio-stderr.txt").is_file()
    assert len(s) > 15
    assert_no_secret(tmp_path, s, outputs)


def test_no_secret_through_the_reverse_proxy_reaches_any_file_or_output(
    tmp_path: Path, demo: str
) -> None:
    s = Secrets()
    outputs: list[str] = []
    run_reverse_proxy(tmp_path, s, demo, outputs)
    recording = tmp_path / "rp.yaml"
    show_export_report(recording, outputs)

    reverse = recording.read_text()
    assert "/mcp?api_key=<redacted:api_key>&key=<redacted:key>&sig=<redacted:sig>" in reverse
    assert "tools/call" in reverse
    assert any("point your client at" in text for text in outputs)
    assert len(s) > 10
    assert_no_secret(tmp_path, s, outputs)


def test_no_secret_through_the_forward_proxy_reaches_any_file_or_output(
    tmp_path: Path, demo: str
) -> None:
    s = Secrets()
    outputs: list[str] = []
    run_forward_proxy(tmp_path, s, demo, outputs)
    recording = tmp_path / "fw.yaml"
    show_export_report(recording, outputs)

    assert "<redacted:authorization>" in recording.read_text()
    assert any((tmp_path / "ca").iterdir())
    assert len(s) > 8
    assert_no_secret(tmp_path, s, outputs)

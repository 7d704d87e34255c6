"""Real processes for end-to-end tests: start one, wait for a line, always stop it."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY_CLIENT = ROOT / "tests" / "clients" / "py_client.py"
TS_DIR = ROOT / "tests" / "clients" / "ts"
TS_CLIENT = TS_DIR / "call_tool.mjs"
EVERYTHING_SERVER = (
    TS_DIR / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
)


class Proc:
    """A child process whose output lines are collected by reader threads.

    `wait_for_line` reads stdout and stderr lines as they come; `stderr` keeps stderr apart.
    """

    def __init__(
        self, args: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None
    ):
        self.args = list(args)
        self.popen = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,  # a signal for the test runner's group never reaches it
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _read_stderr(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self._stderr.append(line)
            self._queue.put(line.rstrip("\n"))  # wait_for_line sees both streams

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait_for_line(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        """Read lines until one matches `pattern`; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line matching {pattern!r} in {self.lines!r}; {self.stderr}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise EOFError(f"process ended before {pattern!r}: {self.lines!r}; {self.stderr}")
            self.lines.append(line)
            match = regex.search(line)
            if match:
                return match

    def finish(self, timeout: float = 30.0) -> int:
        """Wait for the process to exit on its own and collect the rest of its output."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        while True:
            try:
                line = self._queue.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return code

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal the process and make sure it is gone."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


@contextmanager
def running(
    args: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[Proc]:
    proc = Proc(args, cwd=cwd, env=env)
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def demo_server(step_delay: float = 0.05, event_store: bool = False) -> Iterator[str]:
    """`python -m demo_server` on a free port; yields its base URL."""
    args = [sys.executable, "-m", "demo_server", "--port", "0", "--step-delay", str(step_delay)]
    if event_store:
        args.append("--event-store")
    with running(args, cwd=ROOT) as proc:
        yield proc.wait_for_line(r"(http://127\.0\.0\.1:\d+)/mcp").group(1)


@contextmanager
def tap_proxy(
    target: str, cwd: Path, *extra: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, Proc]]:
    """`python -m mcp_tap proxy` on a free port; yields the URL to give clients, and the process."""
    args = [sys.executable, "-m", "mcp_tap", "proxy", "--port", "0", *extra]
    if target:
        args[4:4] = ["--target", target]
    with running(args, cwd=cwd, env=env) as proc:
        yield proc.wait_for_line(r"point your client at (\S+)").group(1), proc


def run_client(args: Sequence[str], timeout: float = 60.0) -> list[dict[str, Any]]:
    """Run a client script to the end; return its JSON lines."""
    proc = Proc(args)
    code = proc.finish(timeout)
    events = [json.loads(line) for line in proc.lines if line.startswith("{")]
    assert code == 0, f"client exited {code}: {events} {proc.stderr}"
    return events


def py_client(
    url: str, transport: str, tool: str, arguments: dict[str, Any]
) -> list[dict[str, Any]]:
    return run_client(
        [
            sys.executable,
            str(PY_CLIENT),
            url,
            "--transport",
            transport,
            "--tool",
            tool,
            "--args",
            json.dumps(arguments),
        ]
    )


def ts_client(
    url: str, tool: str, arguments: dict[str, Any], sse: bool = False
) -> list[dict[str, Any]]:
    args = ["node", str(TS_CLIENT), url, tool, json.dumps(arguments)]
    return run_client(args + (["--sse"] if sse else []))


def have_ts_client() -> bool:
    """Node.js is here and every package `ts/package.json` pins is installed."""
    if shutil.which("node") is None:
        return False
    pinned = json.loads((TS_DIR / "package.json").read_text())["dependencies"]
    return all((TS_DIR / "node_modules" / name / "package.json").is_file() for name in pinned)

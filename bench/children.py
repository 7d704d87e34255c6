"""Child processes for the benchmark: start, wait for a line, read /proc, always stop.

Output goes to files, not pipes: the proxy's live view must see a non-terminal stdout that
nobody has to drain (a pipe nobody reads would stall it), and files keep what it printed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Child:
    """A process whose stdout and stderr are written to files in `directory`."""

    def __init__(self, name: str, args: Sequence[str], directory: Path, cwd: Path = ROOT) -> None:
        self.name = name
        self.args = list(args)
        self.out_path = directory / f"{name}.out"
        self.err_path = directory / f"{name}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,  # `python -m mcp_tap` runs the mcp_tap found here
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )
        self.pid = self.popen.pid

    def output(self) -> str:
        return self.out_path.read_text(errors="replace") + self.err_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Poll the output files until `pattern` matches; fail after `timeout` seconds."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = regex.search(self.output())
            if match:
                return match
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.popen.returncode}: {self.output()}")
            time.sleep(0.02)
        raise TimeoutError(f"{self.name}: no {pattern!r} within {timeout} s: {self.output()}")

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
        raise KeyError(field)

    def rss_mb(self) -> float:
        """Resident set size now (VmRSS), in MB (10^6 bytes)."""
        return self._status("VmRSS") * 1024 / 1e6

    def peak_rss_mb(self) -> float:
        """The highest resident set size so far (VmHWM), in MB."""
        return self._status("VmHWM") * 1024 / 1e6

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the process (all its threads) and of every
        process it started: the recorder's writer process is the proxy's work too."""
        return tree_cpu_ticks(self.pid) / CLOCK_TICKS

    def own_cpu_seconds(self) -> float:
        """User + system CPU time so far of the process alone (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (the proxy then drains its recording), SIGKILL if it does not exit."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def tree_cpu_ticks(pid: int) -> int:
    """utime + stime of `pid` and of every process under it still running, plus the
    children that exited and were waited for (cutime, cstime); 0 for a process that is gone.
    (Read from every /proc/N/stat: /proc/N/task/N/children is not on every kernel.)"""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue  # exited while we looked
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        fields = stats.get(current)
        if fields is None:
            continue
        total += sum(int(fields[index]) for index in (11, 12, 13, 14))
        todo += [child for child, its in stats.items() if int(its[1]) == current]  # ppid
    return total


@contextmanager
def running(name: str, args: Sequence[str], directory: Path) -> Iterator[Child]:
    child = Child(name, args, directory)
    try:
        yield child
    finally:
        child.stop()


def python_module(module: str, *args: str) -> list[str]:
    """`python -m module args`."""
    return [sys.executable, "-m", module, *args]


@contextmanager
def demo_server(directory: Path) -> Iterator[tuple[str, Child]]:
    """`python -m demo_server --port 0 --step-delay 0`; yields its /mcp URL."""
    args = python_module("demo_server", "--port", "0", "--step-delay", "0")
    with running("demo-server", args, directory) as child:
        yield child.wait_for(r"progress-demo: (http://127\.0\.0\.1:\d+/mcp)").group(1), child


@contextmanager
def tap_proxy(
    name: str, target: str, directory: Path, record: Path | None
) -> Iterator[tuple[str, Child]]:
    """`python -m mcp_tap proxy`, view on (stdout to a file), recording to `record`."""
    recording = ["--record", str(record)] if record is not None else ["--no-record"]
    args = python_module("mcp_tap", "proxy", "--target", target, "--port", "0", *recording)
    with running(name, args, directory) as child:
        yield child.wait_for(r"point your client at (\S+)").group(1), child


def wait_idle(children: Sequence[Child], limit: float = 60.0, quiet: float = 0.3) -> float:
    """Wait until none of `children` uses CPU for `quiet` seconds; returns the seconds waited.

    Used between measurements so a recorder still writing the previous test's backlog (or a
    view still printing it) does not steal CPU from the next test.
    """
    started = time.monotonic()
    last = [c.cpu_seconds() for c in children]
    calm_since = time.monotonic()
    while time.monotonic() - started < limit:
        time.sleep(0.1)
        now = [c.cpu_seconds() for c in children]
        busy = any(b - a > 0.011 for a, b in zip(last, now, strict=True))
        last = now
        if busy:
            calm_since = time.monotonic()
        elif time.monotonic() - calm_since >= quiet:
            break
    return time.monotonic() - started

"""Where the proxy's CPU goes under load: py-spy samples of `mcp-tap proxy` while it forwards.

    uv pip install py-spy          # into the venv, for your own use (not a project dependency)
    uv run python bench/profile_proxy.py [--quick] [--raw-dir DIR] [--json FILE]

Starts the demo server and the proxy as bench/run.py does (recording, tracker and view on,
stdout to a file), attaches `py-spy record --threads --nonblocking` to the proxy for each
workload, and prints, as shares of the samples in which the proxy was running Python code:

* threads: the event loop (MainThread) vs the recording writer thread;
* self time by function (the frame on top of the stack);
* self time by component (the module of that frame: mcp_tap.<module>, uvicorn, h11, ...);
* inclusive time of the proxy's own steps (forwarding, tap, bus, tracker, view, recorder).

Workloads: `stream` (8 calls of stream_progress count=5000, back to back) and `tools_list`
(1,000 sequential tools/list calls; 300 with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import wire
from children import ROOT, Child, demo_server, tap_proxy, wait_idle

STEPS = {
    "TapProxy._forward": "proxy: forward one exchange (request, response, tap)",
    "TapProxy._relay": "proxy: relay the response body",
    "ExchangeTap.__init__": "wiretap: classify the request body",
    "ExchangeTap.response_chunk": "wiretap: decode SSE + classify (per chunk)",
    "ExchangeTap.closed": "wiretap: classify a JSON response body (at close)",
    "SSEDecoder.feed": "sse: decode",
    "classify_text": "jsonrpc: json.loads + classify",
    "TapBus.drain": "bus: deliver to subscribers",
    "ProgressTracker.handle": "tracker.handle",
    "ConsoleView.handle": "view.handle (queue)",
    "ConsoleView.render_frame": "view: render frames (write lines)",
    "RecordingWriter.handle": "recorder.handle (queue put)",
    "RecordingWriter._run": "recorder thread (redact + YAML + write)",
    "RequestResponseCycle.send": "uvicorn: send to the client",
    "RequestResponseCycle.run_asgi": "uvicorn: the ASGI call",
    "AsyncClient.send": "httpx2: send upstream (until headers)",
    "Response.aiter_raw": "httpx2: read the upstream body",
}


def wait_frames() -> set[str]:
    """Frames where a thread waits rather than computes, which py-spy does not always drop.

    The event loop's `select`, and the recorder thread's blocking `get()` and its `sleep(0)`
    (a GIL hand-back: the thread then waits for the GIL). Found by their source lines, so
    edits to the writer do not break the filter.
    """
    frames = set()
    recorder = ROOT / "mcp_tap" / "recording" / "writer.py"
    for number, text in enumerate(recorder.read_text().splitlines(), start=1):
        if "self._queue.get()" in text or "time.sleep(0)" in text:
            frames.add(f"RecordingWriter._run (mcp_tap/recording/writer.py:{number})")
    return frames


def is_wait(leaf: str, waits: set[str]) -> bool:
    return leaf in waits or leaf.startswith(("EpollSelector.select (", "Condition.wait ("))


def find_py_spy() -> str:
    local = Path(sys.executable).parent / "py-spy"
    found = str(local) if local.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy not found: `uv pip install py-spy` (for your own use)")
    return found


def component(frame: str) -> str:
    """`Foo.bar (mcp_tap/tap/exchange.py:12)` -> `mcp_tap.tap.exchange`; libraries by package."""
    where = frame.rsplit("(", 1)[-1].rstrip(")").rsplit(":", 1)[0]
    if where.startswith("mcp_tap/"):
        return "mcp_tap." + where.removeprefix("mcp_tap/").removesuffix(".py").replace("/", ".")
    head = where.split("/", 1)[0]
    if "/" in where:
        return head
    return where.removesuffix(".py") or frame


def function(frame: str) -> str:
    """`Foo.bar (mcp_tap/tap/exchange.py:12)` -> `Foo.bar (mcp_tap/tap/exchange.py)`."""
    name, _, where = frame.rpartition(" (")
    return f"{name} ({where.rstrip(')').rsplit(':', 1)[0]})" if name else frame


def analyse(raw: Path, top: int = 15) -> dict[str, Any]:
    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    total = waited = 0
    waits = wait_frames()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0].split(":", 1)[-1].strip() if frames[0].startswith("thread") else "?"
        leaf = frames[-1]
        if is_wait(leaf, waits):
            waited += count
            continue
        total += count
        threads[thread] += count
        own[function(leaf)] += count
        parts[component(leaf)] += count
        names = {frame.rpartition(" (")[0] for frame in frames}
        for step in STEPS:
            if step in names:
                steps[step] += count

    def shares(counter: Counter[str], limit: int | None = top) -> list[tuple[str, float]]:
        return [(name, n / total) for name, n in counter.most_common(limit)]

    return {
        "samples": total,
        "wait_samples_excluded": waited,
        "threads": shares(threads),
        "self_by_function": shares(own),
        "self_by_component": shares(parts),
        "inclusive_steps": [(f"{step}: {STEPS[step]}", steps[step] / total) for step in STEPS],
    }


def report(name: str, result: dict[str, Any]) -> str:
    lines = [
        f"== {name}: {result['samples']} samples on CPU "
        f"({result['wait_samples_excluded']} in wait frames excluded); proxy CPU "
        f"{result['proxy_cpu_s']:.2f} s = {result['proxy_cpu_us_per_unit']:.1f} us per "
        f"{result['unit']}, server CPU {result['server_cpu_s']:.2f} s"
    ]
    for title, key in (
        ("threads", "threads"),
        ("self time by component", "self_by_component"),
        ("self time by function", "self_by_function"),
        ("inclusive time of the proxy's steps", "inclusive_steps"),
    ):
        lines.append(f"  {title}:")
        lines.extend(f"    {share:6.1%}  {label}" for label, share in result[key])
    return "\n".join(lines)


class Spy:
    """`py-spy record` attached to a process until stopped."""

    def __init__(self, py_spy: str, pid: int, output: Path, rate: int) -> None:
        self.output = output
        args = [py_spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw"]
        args += ["--threads", "--nonblocking", "--output", str(output)]
        self.popen = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    def stop(self) -> str:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            out, _ = self.popen.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            out, _ = self.popen.communicate(timeout=10)
        return out.decode(errors="replace")


async def stream_workload(url: str) -> None:
    async with wire.client(2) as http:
        for run in range(8):
            await wire.stream_progress(http, url, 10 + run, 5000)


async def tools_list_workload(url: str, calls: int) -> None:
    async with wire.client(2) as http:
        for request_id in range(1, calls + 1):
            await wire.tools_list(http, url, request_id)


async def warm_up(url: str) -> None:
    async with wire.client(2) as http:
        await wire.stream_progress(http, url, 1, 1000)
        for request_id in range(2, 50):
            await wire.tools_list(http, url, request_id)


def profile(
    name: str,
    workload: Any,
    units: tuple[int, str],
    proxy: Child,
    server: Child,
    py_spy: str,
    raw_dir: Path,
    rate: int,
) -> dict[str, Any]:
    wait_idle([proxy, server])
    raw = raw_dir / f"{name}.txt"
    spy = Spy(py_spy, proxy.pid, raw, rate)
    try:
        asyncio.run(asyncio.sleep(0.5))  # py-spy attached
        proxy_cpu, server_cpu = proxy.cpu_seconds(), server.cpu_seconds()
        asyncio.run(workload)
        wait_idle([proxy], limit=60)  # the recorder and the view finish their share
        proxy_cpu, server_cpu = proxy.cpu_seconds() - proxy_cpu, server.cpu_seconds() - server_cpu
    finally:
        log = spy.stop()
    if not raw.exists():
        raise SystemExit(f"py-spy wrote nothing: {log}")
    result = analyse(raw)
    count, unit = units
    result.update(
        proxy_cpu_s=proxy_cpu,
        server_cpu_s=server_cpu,
        unit=unit,
        proxy_cpu_us_per_unit=proxy_cpu / count * 1e6,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rate", type=int, default=500, help="samples per second")
    parser.add_argument("--raw-dir", type=Path, help="keep py-spy's collapsed stacks here")
    parser.add_argument("--json", type=Path, help="also write the analysis here")
    args = parser.parse_args()
    py_spy = find_py_spy()
    results = {}
    with tempfile.TemporaryDirectory(prefix="mcp-tap-profile-") as directory:
        work = Path(directory)
        raw_dir = args.raw_dir or work
        raw_dir.mkdir(parents=True, exist_ok=True)
        with demo_server(work) as (server_url, server):
            with tap_proxy("proxy", server_url, work, work / "rec.yaml") as (
                url,
                proxy,
            ):
                asyncio.run(warm_up(url))
                calls = 300 if args.quick else 1000
                workloads = {
                    "stream": (lambda: stream_workload(url), (8 * 5000, "event")),
                    "tools_list": (lambda: tools_list_workload(url, calls), (calls, "request")),
                }
                for name, (make, units) in workloads.items():
                    results[name] = profile(
                        name, make(), units, proxy, server, py_spy, raw_dir, args.rate
                    )
                    print(report(name, results[name]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""mcp-tap benchmark suite: a direct connection vs the same work through `mcp-tap proxy`.

    uv run python bench/run.py [--quick] [--json bench/results.json]

Runs the demo server (`python -m demo_server`) and the proxy (`python -m mcp_tap proxy`, with
recording, tracker and view on, its stdout in a file) as separate processes and measures:

1. tools/list latency (p50, p99), direct vs proxied
2. one 5,000-notification stream, total time ratio proxied/direct (each run starts with the
   proxy and the server idle: what the proxy's recorder writes after a stream is not charged
   to the next run, direct or proxied)
3. per-event delay added by the proxy, against a timestamping upstream (bench/stamp_server.py)
4. 100 concurrent 500-notification streams: all delivered, time ratio
5. proxy RSS growth over a 1,000,000-notification session (100,000 with --quick)
6. `mcp-tap replay --fast` of a ~10,000-message recording: messages/s, CPU split

It prints a table, with the issue's floors marked pass/fail, and writes a JSON file. See
bench/README.md for what each figure means and how it is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import wire
from children import ROOT, Child, demo_server, running, tap_proxy, wait_idle

DEFAULT_JSON = ROOT / "bench" / "results.json"


@dataclass(frozen=True)
class Plan:
    """How much of each test to run."""

    latency_calls: int = 2000
    latency_warmup: int = 200
    # Alternate direct/proxied in short blocks: on a shared machine, conditions drift over
    # seconds (which core each process runs on), and long blocks would measure the drift.
    latency_blocks: int = 40
    stream_count: int = 5000
    stream_runs: int = 5
    stamp_rounds: int = 3
    stamp_count: int = 200
    stamp_interval: float = 0.01
    sessions: int = 100
    session_count: int = 500
    session_rounds: int = 3
    memory_total: int = 1_000_000
    memory_per_call: int = 100_000
    memory_tool_calls: int = 20_000  # then many short calls: what the proxy keeps per request
    replay_echoes: int = 2000  # echo calls: 2 messages each
    replay_lists: int = 489  # tools/list calls (the client adds ~11 of its own): 2 each
    replay_stream: int = 4996  # one stream_progress call: count + 2 messages
    replay_workers: int = 20


FULL = Plan()
QUICK = Plan(
    latency_calls=300,
    latency_warmup=50,
    latency_blocks=10,
    stream_runs=3,
    stamp_rounds=1,
    session_rounds=1,
    memory_total=100_000,
    memory_tool_calls=3_000,
    replay_echoes=500,
    replay_lists=114,
    replay_stream=1246,
)

FLOORS = {
    "latency_added_p50_ms": 0.3,
    "stream_ratio": 1.15,
    "event_added_p99_ms": 1.0,
    "concurrency_ratio": 1.3,
    "rss_growth_mb": 20.0,
}


# --- small helpers ---------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            timeout=10, check=False,
        ).stdout.strip()  # fmt: skip
    except OSError:
        commit = ""
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
        "commit": commit,
    }


def run_async(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


# --- 1. tools/list latency -------------------------------------------------------------------


async def latency(direct: str, proxied: str, plan: Plan) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"direct": [], "proxied": []}
    urls = {"direct": direct, "proxied": proxied}
    async with wire.client(2) as direct_http, wire.client(2) as proxied_http:
        clients = {"direct": direct_http, "proxied": proxied_http}
        request_id = 0
        for name in ("direct", "proxied"):
            for _ in range(plan.latency_warmup):
                request_id += 1
                await wire.tools_list(clients[name], urls[name], request_id)
        block = plan.latency_calls // plan.latency_blocks
        for number in range(plan.latency_blocks):
            for name in ("direct", "proxied") if number % 2 == 0 else ("proxied", "direct"):
                for _ in range(block):
                    request_id += 1
                    seconds = await wire.tools_list(clients[name], urls[name], request_id)
                    samples[name].append(seconds * 1e3)
    out: dict[str, Any] = {"calls_each": len(samples["direct"]), "warmup": plan.latency_warmup}
    for name, values in samples.items():
        out[name] = {
            "p50_ms": percentile(values, 50),
            "p99_ms": percentile(values, 99),
            "mean_ms": statistics.fmean(values),
        }
    out["added_p50_ms"] = out["proxied"]["p50_ms"] - out["direct"]["p50_ms"]
    out["added_p99_ms"] = out["proxied"]["p99_ms"] - out["direct"]["p99_ms"]
    return out


# --- 2. one 5,000-notification stream --------------------------------------------------------


async def stream(direct: str, proxied: str, plan: Plan, idle: Sequence[Child]) -> dict[str, Any]:
    times: dict[str, list[float]] = {"direct": [], "proxied": []}
    async with wire.client(2) as http:
        for url in (direct, proxied):  # warm-up: connections, imports, first-call paths
            await wire.stream_progress(http, url, 1, 200)
        for run in range(plan.stream_runs):
            for name, url in (("direct", direct), ("proxied", proxied)):
                await asyncio.to_thread(wait_idle, idle)
                result = await wire.stream_progress(http, url, 10 + run, plan.stream_count)
                times[name].append(result.seconds)
    direct_s, proxied_s = statistics.median(times["direct"]), statistics.median(times["proxied"])
    return {
        "notifications": plan.stream_count,
        "runs_each": plan.stream_runs,
        "direct_s": times["direct"],
        "proxied_s": times["proxied"],
        "direct_median_s": direct_s,
        "proxied_median_s": proxied_s,
        "direct_events_per_s": plan.stream_count / direct_s,
        "proxied_events_per_s": plan.stream_count / proxied_s,
        "ratio": proxied_s / direct_s,
    }


# --- 3. per-event delay, against the timestamping upstream -----------------------------------


async def event_delay(direct: str, proxied: str, plan: Plan) -> dict[str, Any]:
    offsets: dict[str, list[float]] = {"direct": [], "proxied": []}
    arguments = {"count": plan.stamp_count, "interval": plan.stamp_interval}
    async with wire.client(2) as http:
        for url in (direct, proxied):
            await wire.stream_call(http, url, 1, "stream_progress", {"count": 20, "interval": 0.01})
        for number in range(plan.stamp_rounds):
            order = (("direct", direct), ("proxied", proxied))
            for name, url in order if number % 2 == 0 else order[::-1]:
                result = await wire.stream_call(
                    http, url, 2 + number, "stream_progress", arguments, keep=True
                )
                if result.progress != plan.stamp_count:
                    raise wire.BenchError(f"stamp stream: {result.progress} events")
                for arrived, data in result.arrivals:
                    sent = float(json.loads(data)["params"]["message"])
                    offsets[name].append((arrived - sent) * 1e3)
    out: dict[str, Any] = {
        "events_each": len(offsets["direct"]),
        "interval_s": plan.stamp_interval,
        "rounds": plan.stamp_rounds,
    }
    for name, values in offsets.items():
        out[name] = {
            "p50_ms": percentile(values, 50),
            "p99_ms": percentile(values, 99),
            "max_ms": max(values),
        }
    out["added_p50_ms"] = out["proxied"]["p50_ms"] - out["direct"]["p50_ms"]
    out["added_p99_ms"] = out["proxied"]["p99_ms"] - out["direct"]["p99_ms"]
    return out


# --- 4. concurrent sessions ------------------------------------------------------------------


async def concurrency(direct: str, proxied: str, plan: Plan) -> dict[str, Any]:
    times: dict[str, list[float]] = {"direct": [], "proxied": []}
    delivered: dict[str, list[int]] = {"direct": [], "proxied": []}
    failures: list[str] = []

    async def one_round(url: str) -> tuple[float, int, int]:
        async with wire.client(plan.sessions + 10) as http:
            started = time.perf_counter()
            results = await asyncio.gather(
                *(
                    wire.stream_call(
                        http, url, 1000 + i, "stream_progress", {"count": plan.session_count}
                    )
                    for i in range(plan.sessions)
                ),
                return_exceptions=True,
            )
            seconds = time.perf_counter() - started
        progress = complete = 0
        expected = f"Sent {plan.session_count} progress notifications"
        for result in results:
            if isinstance(result, BaseException):
                failures.append(f"{type(result).__name__}: {result}")
                continue
            progress += result.progress
            complete += wire.result_text(result.result) == expected
        return seconds, progress, complete

    for number in range(plan.session_rounds):
        order = (("direct", direct), ("proxied", proxied))
        for name, url in order if number % 2 == 0 else order[::-1]:
            seconds, progress, complete = await one_round(url)
            times[name].append(seconds)
            delivered[name].append(progress)
            if complete != plan.sessions:
                failures.append(f"{name}: {complete}/{plan.sessions} results")
    expected = plan.sessions * plan.session_count
    direct_s, proxied_s = statistics.median(times["direct"]), statistics.median(times["proxied"])
    return {
        "sessions": plan.sessions,
        "notifications_each": plan.session_count,
        "rounds_each": plan.session_rounds,
        "expected_per_round": expected,
        "delivered_direct": delivered["direct"],
        "delivered_proxied": delivered["proxied"],
        "all_delivered": not failures
        and all(n == expected for n in delivered["direct"] + delivered["proxied"]),
        "failures": failures[:10],
        "direct_s": times["direct"],
        "proxied_s": times["proxied"],
        "direct_median_s": direct_s,
        "proxied_median_s": proxied_s,
        "ratio": proxied_s / direct_s,
    }


# --- 5. memory over a long session -----------------------------------------------------------


async def memory(url: str, proxy: Child, server: Child, record: Path, plan: Plan) -> dict[str, Any]:
    async with wire.client(2) as http:
        await wire.stream_progress(http, url, 1, 1000)  # warm-up: every code path once
        for i in range(5):
            await wire.tools_list(http, url, 2 + i)
    wait_idle([proxy, server])
    before = proxy.rss_mb()
    samples = [before]
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            samples.append(proxy.rss_mb())
            try:
                await asyncio.wait_for(done.wait(), 0.25)
            except TimeoutError:
                pass

    sampler = asyncio.create_task(sample())
    calls = plan.memory_total // plan.memory_per_call
    started = time.perf_counter()
    try:
        async with wire.client(2, read_timeout=300) as http:
            for call in range(calls):
                await wire.stream_progress(http, url, 100 + call, plan.memory_per_call)
    finally:
        done.set()
        await sampler
    seconds = time.perf_counter() - started
    waited = await asyncio.to_thread(wait_idle, [proxy, server], 300.0, 1.0)
    after = proxy.rss_mb()
    recorded, printed = record.stat().st_size, proxy.out_path.stat().st_size
    many = await many_tool_calls(url, proxy, server, plan.memory_tool_calls)
    return {
        "notifications": calls * plan.memory_per_call,
        "calls": calls,
        "seconds": seconds,
        "events_per_s": calls * plan.memory_per_call / seconds,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_peak_mb": max(samples),
        "rss_hwm_mb": proxy.peak_rss_mb(),
        "growth_mb": after - before,
        "peak_growth_mb": max(samples) - before,
        "drain_after_s": waited,
        "recording_mb": recorded / 1e6,
        "recording_bytes_per_event": recorded / (calls * plan.memory_per_call),
        "view_output_mb": printed / 1e6,
        "tool_calls": many,
    }


async def many_tool_calls(url: str, proxy: Child, server: Child, calls: int) -> dict[str, Any]:
    """RSS before and after `calls` short tool calls with progress, ten at a time."""
    before = proxy.rss_mb()
    async with wire.client(10) as http:

        async def worker(first: int) -> None:
            for call in range(first, calls, 10):
                await wire.stream_progress(http, url, 10**6 + call, 2)

        await asyncio.gather(*(worker(first) for first in range(10)))
    await asyncio.to_thread(wait_idle, [proxy, server], 300.0, 1.0)
    after = proxy.rss_mb()
    growth = after - before
    return {"calls": calls, "rss_before_mb": before, "rss_after_mb": after, "growth_mb": growth}


# --- 6. replay -------------------------------------------------------------------------------


async def client_session(url: str, plan: Plan) -> dict[str, Any]:
    """A real `mcp.Client` session: concurrent echo and tools/list calls, and one stream."""
    import anyio
    from mcp import Client

    jobs = [("echo", i) for i in range(plan.replay_echoes)]
    jobs += [("list", i) for i in range(plan.replay_lists)]
    random.Random(7).shuffle(jobs)  # interleaved, the same every run
    pending = iter(jobs)
    progress = [0]

    async with Client(url) as client:

        async def worker() -> None:
            for kind, i in pending:
                if kind == "echo":
                    result = await client.call_tool("echo", {"text": f"message {i}"})
                    if result.is_error:
                        raise wire.BenchError(f"echo {i} failed")
                else:
                    await client.list_tools()

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress[0] += 1

        async def streamer() -> None:
            arguments = {"count": plan.replay_stream}
            await client.call_tool("stream_progress", arguments, progress_callback=on_progress)

        async with anyio.create_task_group() as group:
            group.start_soon(streamer)
            for _ in range(plan.replay_workers):
                group.start_soon(worker)
    return {"progress_seen": progress[0]}


def replay(recording: Path, target: str, server: Child, directory: Path) -> dict[str, Any]:
    from mcp_tap.protocol.events import MessageSeen
    from mcp_tap.recording.reader import load_recording

    loaded_at = time.perf_counter()
    events = load_recording(recording).events
    load_s = time.perf_counter() - loaded_at
    messages = sum(isinstance(event, MessageSeen) for event in events)
    junit = directory / "replay-junit.xml"
    args = [sys.executable, "-m", "mcp_tap", "replay", str(recording), "--fast"]
    args += ["--target", target, "--junit", str(junit)]
    wait_idle([server])
    server_cpu = server.cpu_seconds()
    out = open(directory / "replay.out", "wb")  # noqa: SIM115 - closed below
    try:
        started = time.perf_counter()
        popen = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
        deadline = started + 300
        while True:  # wait4, not wait: it also returns the child's CPU times
            pid, status, usage = os.wait4(popen.pid, os.WNOHANG)
            if pid:
                popen.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() > deadline:
                popen.kill()
                popen.wait(timeout=10)
                raise TimeoutError("mcp-tap replay took over 300 s")
            time.sleep(0.02)
        wall = time.perf_counter() - started
    finally:
        out.close()
    server_cpu = server.cpu_seconds() - server_cpu
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None
    engine_s = float(suite.get("time", "nan"))
    replay_cpu = usage.ru_utime + usage.ru_stime
    return {
        "messages": messages,
        "events": len(events),
        "recording_mb": recording.stat().st_size / 1e6,
        "exit_code": popen.returncode,
        "calls": int(suite.get("tests", "0")),
        "failures": int(suite.get("failures", "0")),
        "wall_s": wall,
        "replay_s": engine_s,
        "startup_and_load_s": wall - engine_s,
        "load_recording_s_in_bench": load_s,
        "messages_per_s": messages / engine_s,
        "messages_per_s_wall": messages / wall,
        "replay_cpu_s": replay_cpu,
        "replay_user_s": usage.ru_utime,
        "replay_sys_s": usage.ru_stime,
        "server_cpu_s": server_cpu,
        "mcp_tap_cpu_share": replay_cpu / (replay_cpu + server_cpu),
        "replay_cpu_per_wall": replay_cpu / wall,
        "server_cpu_per_wall": server_cpu / wall,
    }


# --- orchestration ---------------------------------------------------------------------------


def timed(name: str, step: Callable[[], dict[str, Any]], results: dict[str, Any]) -> None:
    log(f"== {name} ...")
    started = time.perf_counter()
    results[name] = step()
    results[name]["test_seconds"] = time.perf_counter() - started
    log(f"   done in {results[name]['test_seconds']:.1f} s")


def run(plan: Plan, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with demo_server(work) as (server_url, server):
        with tap_proxy("proxy", server_url, work, work / "main.yaml") as (url, proxy):
            both = [proxy, server]
            timed("latency", lambda: run_async(latency(server_url, url, plan)), results)
            wait_idle(both)
            timed("stream", lambda: run_async(stream(server_url, url, plan, both)), results)
            wait_idle(both)
            timed("concurrency", lambda: run_async(concurrency(server_url, url, plan)), results)

        stamp_args = [sys.executable, str(ROOT / "bench" / "stamp_server.py"), "--port", "0"]
        with running("stamp-server", stamp_args, work) as stamp:
            stamp_url = stamp.wait_for(r"stamp-server: (\S+)").group(1)
            with tap_proxy("stamp-proxy", stamp_url, work, work / "stamp.yaml") as (
                url,
                proxy,
            ):
                timed("event_delay", lambda: run_async(event_delay(stamp_url, url, plan)), results)

        record = work / "memory.yaml"
        with tap_proxy("memory-proxy", server_url, work, record) as (url, proxy):
            timed("memory", lambda: run_async(memory(url, proxy, server, record, plan)), results)

        session = work / "session.yaml"

        def replay_test() -> dict[str, Any]:
            with tap_proxy("record-proxy", server_url, work, session) as (url, _proxy):
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    recorded = run_async(client_session(url, plan))
                recorded["seconds"] = time.perf_counter() - started
            # the proxy has stopped: its recording is complete
            out = replay(session, server_url, server, work)
            out["recorded_session"] = recorded
            return out

        timed("replay", replay_test, results)
    return results


def verdicts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    figures = {
        "latency_added_p50_ms": results["latency"]["added_p50_ms"],
        "stream_ratio": results["stream"]["ratio"],
        "event_added_p99_ms": results["event_delay"]["added_p99_ms"],
        "concurrency_ratio": results["concurrency"]["ratio"],
        "rss_growth_mb": results["memory"]["growth_mb"],
    }
    out = {}
    for name, value in figures.items():
        ok = value <= FLOORS[name]
        if name == "concurrency_ratio":
            ok = ok and results["concurrency"]["all_delivered"]
        out[name] = {"value": value, "floor": FLOORS[name], "pass": ok}
    return out


def table(report: dict[str, Any]) -> str:
    r, v = report["results"], report["floors"]

    def mark(name: str) -> str:
        return f"<= {FLOORS[name]:g}  {'PASS' if v[name]['pass'] else 'FAIL'}"

    lat, st, ev, co, me, rp = (
        r[k] for k in ("latency", "stream", "event_delay", "concurrency", "memory", "replay")
    )
    rows = [
        ("1 tools/list p50 (ms)", lat["direct"]["p50_ms"], lat["proxied"]["p50_ms"],
         f"{lat['added_p50_ms']:+.3f} ms", mark("latency_added_p50_ms")),
        ("1 tools/list p99 (ms)", lat["direct"]["p99_ms"], lat["proxied"]["p99_ms"],
         f"{lat['added_p99_ms']:+.3f} ms", ""),
        (f"2 stream {st['notifications']:,} (s, median)", st["direct_median_s"],
         st["proxied_median_s"], f"x{st['ratio']:.3f}", mark("stream_ratio")),
        ("3 event delay p50 (ms)", ev["direct"]["p50_ms"], ev["proxied"]["p50_ms"],
         f"{ev['added_p50_ms']:+.3f} ms", ""),
        ("3 event delay p99 (ms)", ev["direct"]["p99_ms"], ev["proxied"]["p99_ms"],
         f"{ev['added_p99_ms']:+.3f} ms", mark("event_added_p99_ms")),
        (f"4 {co['sessions']}x{co['notifications_each']} concurrent (s)", co["direct_median_s"],
         co["proxied_median_s"],
         f"x{co['ratio']:.3f}, {'all' if co['all_delivered'] else 'NOT all'} delivered",
         mark("concurrency_ratio")),
        (f"5 proxy RSS over {me['notifications']:,} (MB)", me["rss_before_mb"],
         me["rss_after_mb"], f"{me['growth_mb']:+.1f} MB (peak {me['peak_growth_mb']:+.1f})",
         mark("rss_growth_mb")),
        (f"5 proxy RSS over {me['tool_calls']['calls']:,} tool calls (MB)",
         me["tool_calls"]["rss_before_mb"], me["tool_calls"]["rss_after_mb"],
         f"{me['tool_calls']['growth_mb']:+.1f} MB", ""),
        (f"6 replay --fast {rp['messages']:,} msgs (s)", None, rp["replay_s"],
         f"{rp['messages_per_s']:,.0f} msg/s", ""),
    ]  # fmt: skip

    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.3f}"

    lines = [f"{'test':<38}{'direct':>10}{'proxied':>10}  {'figure':<34}floor"]
    lines.append("-" * 104)
    for name, direct, proxied, figure, floor in rows:
        lines.append(f"{name:<38}{number(direct):>10}{number(proxied):>10}  {figure:<34}{floor}")
    lines.append("")
    lines.append(
        f"5: {me['events_per_s']:,.0f} events/s through the proxy; recording "
        f"{me['recording_mb']:.1f} MB ({me['recording_bytes_per_event']:.0f} B/event); "
        f"view output {me['view_output_mb']:.1f} MB; drained {me['drain_after_s']:.1f} s "
        "after the last event"
    )
    lines.append(
        f"6: wall {rp['wall_s']:.2f} s (replay {rp['replay_s']:.2f} s + start/load "
        f"{rp['startup_and_load_s']:.2f} s); CPU replay {rp['replay_cpu_s']:.2f} s, "
        f"server {rp['server_cpu_s']:.2f} s => mcp-tap {rp['mcp_tap_cpu_share']:.0%} of the CPU; "
        f"{rp['calls']} calls, {rp['failures']} diverged"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a scaled-down run (~2 minutes)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    info = machine()
    log(
        f"machine: {info['nproc']} CPUs ({info['cpus_usable']} usable), {info['cpu_model']}, "
        f"Python {info['python']}, {info['platform']}"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mcp-tap-bench-") as directory:
        results = run(plan, Path(directory))
    report: dict[str, Any] = {
        "machine": info,
        "mode": "quick" if args.quick else "full",
        "plan": asdict(plan),
        "results": results,
        "seconds": time.perf_counter() - started,
    }
    report["floors"] = verdicts(results)
    text = table(report)
    print(
        f"mcp-tap bench ({report['mode']}) on "
        f"{info['nproc']} x {info['cpu_model']}, Python {info['python']}, "
        f"commit {info['commit'] or '?'}, {report['seconds']:.0f} s"
    )
    print(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`mcp-tap demo`: the whole product in one command.

Starts the demo server and a recording proxy, drives scripted client scenarios through it
(a download with a total, a job with no total, an install reporting named steps, and two
downloads at once), then replays the recording against a fresh demo server and prints the
verdict.

The mcp client and the demo server are imported only when the demo runs: every other
command starts without them.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from mcp_tap.cli.common import UserError, check_record_path, report_verdicts, run_async
from mcp_tap.cli.options import Commands, add_command, add_record_path, add_view_options
from mcp_tap.cli.proxy import running_proxy
from mcp_tap.cli.subscribers import view_subscribers
from mcp_tap.protocol.events import Subscriber
from mcp_tap.protocol.redaction import RedactionRules
from mcp_tap.recording.reader import load_recording
from mcp_tap.recording.writer import RecordingWriter
from mcp_tap.replay.compare import CallVerdict
from mcp_tap.replay.run import ReplayOptions, exit_code, replay
from mcp_tap.tap.bus import TapBus

STEP_DELAY = 0.15  # seconds between the demo tools' progress steps: slow enough to watch


def register(commands: Commands) -> None:
    """Add `mcp-tap demo` and its flags."""
    demo = add_command(
        commands,
        "demo",
        run,
        "demo server + proxy + scripted clients, then a replay of the recording",
        "Start the bundled demo server and a recording proxy, drive scripted clients through "
        "it, then replay the recording against a fresh demo server and print the verdict.",
        "demo",
        "demo --record /tmp/demo.yaml --force -q",
    )
    add_record_path(
        demo, "where to write the demo's recording (default: recordings/<UTC time>-demo.yaml)"
    )
    demo.add_argument(
        "--step-delay",
        type=float,
        default=STEP_DELAY,
        metavar="SECONDS",
        help="pause between two progress steps of the demo's tools; 0 runs the demo as fast "
        f"as it goes (default {STEP_DELAY:g})",
    )
    add_view_options(demo)


def run(args: argparse.Namespace) -> int:
    """`mcp-tap demo`: record, replay, print the verdict; the replay's exit code."""
    if not (math.isfinite(args.step_delay) and args.step_delay >= 0):
        raise UserError(f"--step-delay must be 0 or more seconds, got {args.step_delay:g}")
    console = Console(stderr=True) if args.jsonl else Console()

    def live_view(bus: TapBus) -> list[Subscriber]:
        return view_subscribers(args, bus)

    def replay_view(bus: TapBus) -> list[Subscriber]:
        return view_subscribers(argparse.Namespace(**{**vars(args), "quiet": True}), bus)

    check_record_path(args)
    record = Path(args.record) if args.record else None
    verdicts = run_async(
        run_demo(console, record, live_view, replay_view, args.force, args.step_delay)
    )
    report_verdicts(args, verdicts)
    return exit_code(verdicts)


async def _ignore_progress(progress: float, total: float | None, message: str | None) -> None:
    """The view shows progress from the wire; the client itself needs no callback work."""


async def run_scenarios(mcp_url: str, step_delay: float = STEP_DELAY) -> None:
    """The scripted client side, through the proxy at `mcp_url`; `step_delay` seconds between
    two progress steps of each tool."""
    from mcp import Client

    async with Client(mcp_url) as client:  # 2026-07-28: stateless POSTs
        await client.call_tool(
            "download_file",
            {"filename": "dataset.parquet", "size_mb": 8, "step_delay": step_delay},
            progress_callback=_ignore_progress,
        )
        await client.call_tool(
            "process_data",
            {"records": 60, "step_delay": step_delay},
            progress_callback=_ignore_progress,
        )
    async with Client(mcp_url, mode="legacy") as client:  # the handshake era, with a session
        await client.call_tool(
            "install_package",
            {"name": "rich", "step_delay": step_delay},
            progress_callback=_ignore_progress,
        )
        await asyncio.gather(
            *(
                client.call_tool(
                    "download_file",
                    {"filename": name, "size_mb": size, "step_delay": step_delay},
                    progress_callback=_ignore_progress,
                )
                for name, size in (("model.bin", 10), ("weights.safetensors", 6))
            )
        )


async def record_demo(
    record_path: Path | None,
    view: Callable[[TapBus], list[Subscriber]],
    overwrite: bool = False,
    step_delay: float = STEP_DELAY,
) -> Path:
    """Run the scenarios through a recording proxy; return the recording's path."""
    from demo_server.runner import running_demo_server

    bus = TapBus()
    recorder = RecordingWriter(
        record_path, None, RedactionRules.from_options(), overwrite=overwrite
    )
    bus.subscribe(recorder)
    for subscriber in view(bus):
        bus.subscribe(subscriber)
    try:
        async with running_demo_server(step_delay=step_delay) as server:
            async with running_proxy(server + "/mcp", bus) as proxy:
                await run_scenarios(proxy + "/mcp", step_delay)
                await asyncio.sleep(0.05)  # the last events reach the subscribers
    finally:
        bus.close()
    return recorder.path


async def replay_demo(
    path: Path, view: Callable[[TapBus], list[Subscriber]]
) -> Sequence[CallVerdict]:
    """Replay the demo's recording against a fresh demo server, as fast as causality allows."""
    recording = load_recording(path)
    bus = TapBus()
    for subscriber in view(bus):
        bus.subscribe(subscriber)
    try:
        verdicts, _ = await replay(recording.events, ReplayOptions(speed=None), bus)
    finally:
        bus.close()
    return verdicts


async def run_demo(
    console: Console,
    record_path: Path | None,
    live_view: Callable[[TapBus], list[Subscriber]],
    replay_view: Callable[[TapBus], list[Subscriber]],
    overwrite: bool = False,
    step_delay: float = STEP_DELAY,
) -> Sequence[CallVerdict]:
    """Record, then replay; the caller prints the verdicts."""
    console.rule("[bold]1/2 - clients -> mcp-tap proxy -> demo server, recording")
    path = await record_demo(record_path, live_view, overwrite, step_delay)
    console.print(f"recorded to [bold]{path}[/]")
    console.rule("[bold]2/2 - replaying the recording against a fresh demo server")
    return await replay_demo(path, replay_view)

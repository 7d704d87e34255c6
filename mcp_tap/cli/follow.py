"""`mcp-tap show --follow`: the live view of a recording that another process is writing.

The same subscribers as `mcp-tap proxy` (tracker, view, summary) fed from the file as it
grows. It waits for the file to appear, polls it every few milliseconds (the writer
flushes each batch at once), and ends when the writer lets go of the file or at Ctrl-C.
A folder is `cli.follow_folder`'s: every recording written in it, until Ctrl-C.
With `--web` the page stays after the writer is done, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from mcp_tap.cli.common import run_async, until_signalled
from mcp_tap.cli.subscribers import fail_on_exit, fail_on_gate, view_subscribers
from mcp_tap.cli.web import web_session, web_store
from mcp_tap.recording.follow import RecordingTail, read_available
from mcp_tap.recording.lock import writer_finished
from mcp_tap.tap.bus import TapBus

POLL_INTERVAL = 0.01  # seconds between looks at the file: events reach the view well in 100 ms
FOLLOW_FPS = 30.0  # a follower adds the writer's batching to its delay: frames come sooner


def run_follow(args: argparse.Namespace) -> int:
    """The live view of a recording being written (by `proxy`, `stdio`, `replay --record`)."""
    path = Path(args.file)
    if args.since_now and finished_recording(path):
        print(
            f"mcp-tap: {path} is finished: its writer closed it, nothing more will be written "
            f"(`show --follow {path.parent}{os.sep}` waits for the next recordings there)",
            file=sys.stderr,
        )
        return 0
    bus = TapBus()
    gate = fail_on_gate(args, bus)
    for subscriber in view_subscribers(args, bus, recorded=True, fps=FOLLOW_FPS):
        bus.subscribe(subscriber)
    store = web_store(args, bus)

    async def follow() -> None:
        async with web_session(args, store, None, str(path), sys.stderr, resend=False):
            finished = await follow_recording(path, bus, args.since_now)
            if finished and args.web is not None:
                await _keep_the_page()

    try:
        run_async(follow())
    finally:
        bus.close()
    return fail_on_exit(gate)


async def _keep_the_page() -> None:
    print(
        "mcp-tap: the recording is finished; the web view stays until Ctrl-C",
        file=sys.stderr,
        flush=True,
    )
    async with until_signalled() as stop:
        await stop.wait()


def finished_recording(path: Path) -> bool:
    """Whether `path` is a whole recording whose writer has let go of it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # not there yet: following waits for it
    try:
        finished = writer_finished(fd)
        tail = RecordingTail(str(path))
        tail.feed(read_available(fd))  # a file that is not a recording says so here
        return finished and tail.header is not None
    finally:
        os.close(fd)


async def follow_recording(path: Path, bus: TapBus, since_now: bool = False) -> bool:
    """Publish the events of `path` on `bus` as they are written, until the writer is done;
    whether it was (False: Ctrl-C came first)."""
    async with until_signalled() as stop:
        fd = await _opened_when_it_exists(path, stop)
        if fd is None:
            return False
        try:
            await _follow(fd, path, bus, since_now, stop)
        finally:
            os.close(fd)
        return not stop.is_set()


async def _opened_when_it_exists(path: Path, stop: asyncio.Event) -> int | None:
    said = False
    while not stop.is_set():
        try:
            return os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            if not said:
                print(f"mcp-tap: waiting for {path} to appear", file=sys.stderr, flush=True)
                said = True
        await pause(stop, POLL_INTERVAL)
    return None


async def _follow(fd: int, path: Path, bus: TapBus, since_now: bool, stop: asyncio.Event) -> None:
    tail = RecordingTail(str(path))
    if since_now:
        tail.feed(read_available(fd))  # the header and what came before: not shown
    print(f"mcp-tap: following {path} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    while not stop.is_set():
        finished = writer_finished(fd)  # asked before reading: nothing written after is lost
        for event in tail.feed(read_available(fd)):
            bus.publish(event)
        if finished and tail.header is not None:
            return
        await pause(stop, POLL_INTERVAL)


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when `stop` is set."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass

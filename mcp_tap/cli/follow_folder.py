"""`mcp-tap show --follow DIR`: one live view of every recording written in a folder.

A host launches each wrapped server through `mcp-tap stdio --record DIR/...`, so the folder
gains a file per launch, relaunches included. The follower lists the folder every
`FOLDER_POLL` seconds, tails each recording in it as `show --follow FILE` does, and feeds
them all, relabelled (`recording.merge`: each line names its server), to one bus: one
tracker, one view, one summary. It never ends by itself (a host may launch a server again
at any time): Ctrl-C ends it.

Which recordings: the `*.yaml` files right in the folder. At the start, those still being
written (their writer holds its lock, `recording.lock`) are shown from their beginning, or
from now on with `--since-now`; finished ones are left out (`show FILE` prints one). Every
file that appears later is shown from its beginning. At most `--max-follow` are tailed at
once; the next ones wait, in order, for one to finish.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_tap.cli.common import UserError, run_async, until_signalled
from mcp_tap.cli.follow import FOLLOW_FPS, POLL_INTERVAL, pause
from mcp_tap.cli.subscribers import fail_on_exit, fail_on_gate, view_subscribers
from mcp_tap.cli.web import web_session, web_store
from mcp_tap.protocol.events import TapEvent
from mcp_tap.recording.follow import RecordingTail, read_available
from mcp_tap.recording.lock import writer_finished
from mcp_tap.recording.merge import ExchangeNumbers, Labels, Relabel, server_name
from mcp_tap.recording.reader import RecordingError, started_epoch
from mcp_tap.tap.bus import TapBus
from mcp_tap.view.visible import visible

FOLDER_POLL = 0.2  # seconds between listings of the folder: a new launch shows within this
DEFAULT_MAX_FOLLOW = 64  # recordings tailed at once (one file descriptor each)
HEADER_WAIT = 2.0  # seconds a new file without a writer may take to show a header
SESSION_WIDTH = 14  # the session column holds server names (`filesystem#2`)


def is_folder(path: str) -> bool:
    """Whether `--follow PATH` names a folder: an existing one, or a path ending in `/`."""
    return path.endswith(("/", os.sep)) or Path(path).is_dir()


def run_follow_folder(args: argparse.Namespace) -> int:
    """The live view of every recording written in the folder `args.file`, until Ctrl-C."""
    if args.max_follow < 1:
        raise UserError("--max-follow must be at least 1")
    folder = FolderFollower(Path(args.file), args.since_now, args.max_follow)
    epoch = folder.start()
    bus = TapBus()
    gate = fail_on_gate(args, bus)
    for subscriber in view_subscribers(
        args, bus, recorded=True, fps=FOLLOW_FPS, started_at=epoch, session_width=SESSION_WIDTH
    ):
        bus.subscribe(subscriber)
    store = web_store(args, bus)

    async def follow() -> None:
        async with web_session(args, store, None, str(args.file), sys.stderr, resend=False):
            await folder.run(bus)

    try:
        run_async(follow())
    finally:
        folder.close()
        bus.close()
    return fail_on_exit(gate)


@dataclass
class _Tailed:
    """One recording being followed."""

    path: Path
    fd: int
    tail: RecordingTail
    opened_at: float  # monotonic
    backlog: list[TapEvent] = field(default_factory=list)  # read before the view was there
    relabel: Relabel | None = None


class FolderFollower:
    """The recordings of one folder, tailed and relabelled onto one bus."""

    def __init__(self, folder: Path, since_now: bool, max_follow: int) -> None:
        self.folder = folder
        self.since_now = since_now
        self.max_follow = max_follow
        self.epoch = time.time()  # the merged stream's time 0, as seconds since 1970
        self.tailed: dict[Path, _Tailed] = {}
        self._known: set[Path] = set()  # every file listed so far, followed or not
        self._waiting: deque[Path] = deque()  # over --max-follow, in the order they came
        self._listed = False  # the folder was there and listed once
        self._said_full = False
        self._labels = Labels()
        self._numbers = ExchangeNumbers()

    def start(self) -> float:
        """List the folder as it is now; the merged stream's time 0 (seconds since 1970)."""
        names = self._new_files()
        if not self._listed:
            print(f"mcp-tap: waiting for {self.folder} to appear", file=sys.stderr, flush=True)
            return self.epoch
        finished = 0
        for path in names:
            if not self._open(path, at_start=True):
                finished += 1
        # lines of what was being written start at the oldest of those recordings
        if not self.since_now:
            starts = [started_epoch(t.tail.header) for t in self.tailed.values() if t.tail.header]
            self.epoch = min([self.epoch, *(s for s in starts if s is not None)])
        for tailed in self.tailed.values():
            if tailed.tail.header is not None:
                tailed.backlog = self._relabelled(tailed, tailed.backlog)
        writing = len(self.tailed) + len(self._waiting)
        counts = [f"{writing} being written"] if writing else []
        counts += [f"{finished} finished ones not shown"] if finished else []
        said = f": {', '.join(counts)}" if counts else ""
        print(
            f"mcp-tap: following every recording in {self.folder}{said} (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        return self.epoch

    async def run(self, bus: TapBus) -> None:
        """Publish every followed recording's events on `bus` as they come, until Ctrl-C."""
        async with until_signalled() as stop:
            for tailed in self.tailed.values():
                for event in tailed.backlog:
                    bus.publish(event)
                tailed.backlog = []
            listed_at = time.monotonic()
            while not stop.is_set():
                if time.monotonic() - listed_at >= FOLDER_POLL:
                    listed_at = time.monotonic()
                    self._list_again()
                for event in self._open_waiting():
                    bus.publish(event)
                for tailed in list(self.tailed.values()):
                    for event in self._read(tailed):
                        bus.publish(event)
                await pause(stop, POLL_INTERVAL)

    def close(self) -> None:
        """Let go of every file."""
        for tailed in list(self.tailed.values()):
            self._drop(tailed)

    # --- the folder -----------------------------------------------------------------------

    def _new_files(self) -> list[Path]:
        """The recordings listed for the first time, by name (a launch's name starts with its
        server's and then its UTC time)."""
        try:
            with os.scandir(self.folder) as entries:
                found = [
                    Path(entry.path)
                    for entry in entries
                    if entry.name.endswith(".yaml")
                    and not entry.name.startswith(".")
                    and entry.is_file()
                ]
        except (FileNotFoundError, NotADirectoryError):
            return []  # not there (yet, or any more): looked at again
        except OSError as error:
            raise UserError(f"cannot read {self.folder}: {error.strerror or error}") from None
        self._listed = True
        new = sorted(set(found) - self._known)
        self._known.update(new)
        return new

    def _list_again(self) -> None:
        listed = self._listed
        self._waiting.extend(self._new_files())
        if self._listed and not listed:
            print(
                f"mcp-tap: following every recording in {self.folder} (Ctrl-C to stop)",
                file=sys.stderr,
                flush=True,
            )

    def _open_waiting(self) -> list[TapEvent]:
        """Follow the recordings waiting for a place; what they hold already."""
        events: list[TapEvent] = []
        while self._waiting and len(self.tailed) < self.max_follow:
            path = self._waiting.popleft()
            if self._open(path, at_start=False) and path in self.tailed:
                tailed = self.tailed[path]
                events += self._relabelled(tailed, tailed.backlog)
                tailed.backlog = []
        if self._waiting and not self._said_full:
            self._said_full = True
            print(
                f"mcp-tap: {self.max_follow} recordings are being followed (--max-follow): "
                "the next ones wait for one to finish",
                file=sys.stderr,
                flush=True,
            )
        return events

    def _open(self, path: Path, at_start: bool) -> bool:
        """Follow `path`; False when, at the start, its writer had already finished it."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return True  # gone already: nothing to show
        finished = writer_finished(fd)
        if at_start and finished:
            os.close(fd)
            return False
        if at_start and len(self.tailed) >= self.max_follow:
            os.close(fd)
            self._waiting.append(path)
            return True
        tailed = _Tailed(path, fd, RecordingTail(str(path)), time.monotonic())
        self.tailed[path] = tailed
        events = self._parsed(tailed)
        if not (at_start and self.since_now):  # --since-now: what was there is not shown
            tailed.backlog = events
        return True

    # --- one recording --------------------------------------------------------------------

    def _read(self, tailed: _Tailed) -> list[TapEvent]:
        """What was appended to `tailed`, relabelled; it is let go once its writer is done."""
        finished = writer_finished(tailed.fd)  # before reading: nothing written after is lost
        events = self._relabelled(tailed, self._parsed(tailed))
        waited = time.monotonic() - tailed.opened_at
        if finished and (tailed.tail.header is not None or waited > HEADER_WAIT):
            self._drop(tailed)  # the next waiting one takes its place on the next turn
        return events

    def _parsed(self, tailed: _Tailed) -> list[TapEvent]:
        try:
            return tailed.tail.feed(read_available(tailed.fd))
        except (RecordingError, OSError) as error:
            why = str(error) if isinstance(error, RecordingError) else f"{tailed.path}: {error}"
            print(f"mcp-tap: not following {visible(why)}", file=sys.stderr, flush=True)
            self._drop(tailed)
            return []

    def _relabelled(self, tailed: _Tailed, events: list[TapEvent]) -> list[TapEvent]:
        header = tailed.tail.header
        if header is None:
            return events  # none: events come after the header
        if tailed.relabel is None:
            tailed.relabel = self._relabel(header)
        relabel = tailed.relabel
        return [relabel(event) for event in events]

    def _relabel(self, header: dict[str, Any]) -> Relabel:
        started = started_epoch(header)
        shift = (started if started is not None else time.time()) - self.epoch
        return Relabel(self._labels.label(server_name(header)), self._numbers, shift)

    def _drop(self, tailed: _Tailed) -> None:
        if self.tailed.pop(tailed.path, None) is not None:
            os.close(tailed.fd)

"""`RecordingWriter`: the subscriber that writes tap events to a YAML recording.

`handle` only appends the event to a queue, so the event loop pays for one append. The queue
is unbounded on purpose: when the disk or the YAML falls behind a burst, events wait in
memory (back-pressure on memory, never on the forwarding path) and none is dropped.

Where the events go: with `separate_process` (the commands), the event loop sends them as
compact records to a writer process (`feed.py`, `process.py`), which redacts and writes
them, so the YAML costs the forwarding process's GIL nothing; otherwise (and where the
system cannot fork), a thread of this process takes what gathered and writes it. Either way
the same `DocumentSink` (`sink.py`) writes them, one `os.write` a batch, and the file is the
same. The format is described in docs/recording-format.md.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from mcp_tap.protocol.events import TapEvent
from mcp_tap.protocol.redaction import RedactionRules, Redactor
from mcp_tap.recording.feed import RecordFeed
from mcp_tap.recording.lock import hold_while_writing
from mcp_tap.recording.process import WriterProcess
from mcp_tap.recording.sink import DocumentSink, yielder
from mcp_tap.recording.yaml_emit import emit_document

log = logging.getLogger(__name__)

FORMAT_NAME = "mcp-tap-recording"
FORMAT_VERSION = 1  # what an HTTP recording says: nothing in it changed since version 1
# A stdio recording says 2: its messages use the `stdio` stream, which a version-1 reader
# would refuse. HTTP recordings stay at 1 so that older readers still read them.
STDIO_FORMAT_VERSION = 2
READABLE_VERSIONS = (FORMAT_VERSION, STDIO_FORMAT_VERSION)
DEFAULT_DIRECTORY = Path("recordings")
# The writer and the proxy's event loop share the GIL, which changes hands every 5 ms by
# default: the loop could then wait 5 ms for a busy writer, and a writer that yields more often
# falls behind a flood of events and lets its backlog grow. 1 ms slices keep both in step.
SWITCH_INTERVAL = 0.001
# A request that arrives while the writer works must wait for the GIL, up to SWITCH_INTERVAL
# before Python forces a switch; the writer lets go by itself after every 0.1 ms of work.
WORK_SLICE = 0.0001
SMALL_BATCH = 128  # events gathered in one interval: up to this many, the writer yields
GATHER_INTERVAL = 0.02  # how long events wait for the writer, at most, unless it is behind
MAX_BATCH = 1024  # events per write: bounds the text held at once during a burst
PREAMBLE = "# mcp-tap recording: one YAML document per tap event, see docs/recording-format.md\n"

_STOP = object()


def mcp_tap_version() -> str:
    """The installed mcp-tap version, or "unknown" when running from an uninstalled tree."""
    try:
        return metadata.version("mcp-tap")
    except metadata.PackageNotFoundError:
        return "unknown"


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class StdioOrigin:
    """What a stdio recording says of the server it tapped: the command and the names of the
    variables in its environment (never their values: they are where keys are kept)."""

    command: Sequence[str]
    environment: Sequence[str] = ()
    host_entry: str | None = None  # the host config entry it stands for (`--host-entry`)


FORWARD_TARGET = "forward"  # the header's `target` of a forward proxy's recording: many hosts


def recording_header(
    target: str | None,
    started: datetime,
    rules: RedactionRules | None,
    stdio: StdioOrigin | None = None,
) -> dict[str, Any]:
    """The first document: what this file is and where the traffic went."""
    header: dict[str, Any] = {"format": FORMAT_NAME}
    if stdio is not None:
        command = list(stdio.command)
        if rules is not None:
            command = Redactor(rules).command(command)
        header["version"] = STDIO_FORMAT_VERSION
        header["mcp_tap_version"] = mcp_tap_version()
        header["transport"] = "stdio"
        header["command"] = command
        header["environment"] = sorted(stdio.environment)
        if stdio.host_entry:  # what `show --follow DIR` labels the session's lines with
            header["host_entry"] = stdio.host_entry
    else:
        if target and rules is not None:
            target = Redactor(rules).url(target)
        header["version"] = FORMAT_VERSION
        header["mcp_tap_version"] = mcp_tap_version()
        header["target"] = target or "demo"
    header["started"] = started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    header["redaction"] = (rules or RedactionRules(builtin=False)).describe()
    return header


def default_recording_path(
    target: str | None,
    started: datetime,
    directory: Path = DEFAULT_DIRECTORY,
    stdio: StdioOrigin | None = None,
) -> Path:
    """`recordings/20261126T101500Z-<target host>.yaml` (`demo` for the bundled server; the
    program's name for a stdio server)."""
    if stdio is not None and stdio.command:
        host = "stdio-" + Path(stdio.command[0]).name
    elif target == FORWARD_TARGET:
        host = FORWARD_TARGET
    else:
        host = (urlsplit(target).hostname or "target") if target else "demo"
    host = re.sub(r"[^A-Za-z0-9.-]+", "_", host)
    return directory / f"{started.astimezone(UTC):%Y%m%dT%H%M%SZ}-{host}.yaml"


def open_exclusive(path: Path, unique: bool = False, overwrite: bool = False) -> tuple[int, Path]:
    """Create `path` for appending, mode 0600, never replacing a file (unless `overwrite`).

    With `unique`, a taken name gets a `-2`, `-3`... suffix instead of failing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_CREAT | os.O_WRONLY | os.O_APPEND  # see the module docstring: copytruncate
    if overwrite:
        return os.open(path, flags | os.O_TRUNC, 0o600), path
    candidate, number = path, 1
    while True:
        try:
            return os.open(candidate, flags | os.O_EXCL, 0o600), candidate
        except FileExistsError:
            if not unique:
                raise
            number += 1
            candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")


class RecordingWriter:
    """Subscriber writing every event, redacted, to a new YAML file (see the module docstring)."""

    def __init__(
        self,
        path: str | Path | None,
        target: str | None,
        rules: RedactionRules | None = None,
        started: datetime | None = None,
        overwrite: bool = False,
        stdio: StdioOrigin | None = None,
        unique: bool = False,
        separate_process: bool = False,
    ) -> None:
        """Create the file (the default name when `path` is None) and write its header.

        `stdio`: the recording is of a stdio server's pipes, not of HTTP to `target`.
        `unique`: a taken `path` gets a `-2`, `-3`... suffix instead of failing.
        `separate_process`: write from a forked writer process (`process.py`), as the
        commands do; a thread of this process writes when the system cannot fork.
        Raises OSError (FileExistsError included, unless `overwrite`) when the file cannot
        be created.
        """
        started = started or utc_now()
        if path is None:
            default = default_recording_path(target, started, stdio=stdio)
            fd, self.path = open_exclusive(default, True)
        else:
            fd, self.path = open_exclusive(Path(path), unique, overwrite)
        hold_while_writing(fd)  # `show --follow` knows the session is over when it ends
        header = PREAMBLE + emit_document(recording_header(target, started, rules, stdio))
        try:
            self._sink = DocumentSink(fd, self.path, header.encode("utf-8"), rules)
        except OSError:
            os.close(fd)
            raise
        self._feed: RecordFeed | None = None
        self._error: OSError | None = None
        self._closed = False
        if separate_process:
            try:
                self._feed = RecordFeed(WriterProcess(self._sink), self.path)
            except OSError as error:
                log.warning("recording from a thread: cannot start a writer process: %s", error)
            else:
                os.close(fd)  # the writer process's now, with the lock
                return
        # A deque and one wake-up per burst: waking the writer for every event costs the
        # event loop more than the event itself (a futex call per put).
        self._pending: deque[object] = deque()
        self._wake = threading.Event()
        self._awake = False  # the writer was woken and has not yet taken what is pending
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._run, name="mcp-tap-recorder", daemon=True)
        self._thread.start()

    @property
    def error(self) -> OSError | None:
        """Why the recording stopped early (a full disk, say); known for sure after `close`."""
        return self._error if self._feed is not None else self._sink.error

    def hold_while(self, crossing: Callable[[], bool]) -> None:
        """Keep the writer process idle while `crossing()` says a burst is being relayed
        (for at most a second at a time: `feed.MAX_HOLD`)."""
        if self._feed is not None:
            self._feed.hold = crossing

    def handle(self, event: TapEvent) -> None:
        """Queue the event for the writer; O(1), never blocks, never drops."""
        if self._feed is not None:
            if not self._closed:
                self._feed.handle(event)
        elif not self._closed:
            self._pending.append(event)
            if not self._awake:
                self._awake = True
                self._wake.set()

    def close(self) -> None:
        """Write everything queued, stop the writer, close the file. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._feed is not None:
            self._error = self._feed.close()
            return
        self._pending.append(_STOP)
        self._wake.set()
        self._thread.join()
        os.close(self._sink.fd)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while True:
                # Let events gather: the writer takes the GIL once per interval, not once per
                # exchange, so the event loop waits on it for few exchanges, not for most.
                time.sleep(GATHER_INTERVAL)
                while self._pending:
                    count = min(MAX_BATCH, len(self._pending))
                    batch = [self._pending.popleft() for _ in range(count)]
                    stop = batch[-1] is _STOP
                    events = cast(list[TapEvent], batch[:-1] if stop else batch)
                    if events:
                        # A small batch means requests come one at a time, and each waits for
                        # the GIL while the writer holds it. A large one means a flood, which
                        # a yielding writer would not keep up with: a busy loop keeps the GIL
                        # until a switch is forced.
                        pause = yielder(WORK_SLICE) if len(events) <= SMALL_BATCH else None
                        self._sink.write_batch(events, pause)
                    if stop:
                        return
                self._awake = False  # from now on, handle() wakes us
                if self._pending:  # something slipped in before that: go on
                    continue
                break

"""`RecordingWriter`: the subscriber that writes tap events to a YAML recording.

`handle` only appends the event to a deque, so the event loop pays for one append; a writer
thread redacts, serialises and writes. The queue is unbounded on purpose: when the disk or
the YAML dumper falls behind a burst, events wait in memory (back-pressure on memory, never
on the forwarding path) and none is dropped.

Documents are written by `yaml_emit` (PyYAML's dumper is ~20x slower per event), and the
parts that repeat verbatim (a tools/list result, a client's headers) are written once and
their YAML reused (`yaml_emit.Memo`).
Every batch the thread drains is written with `os.write` on an unbuffered descriptor, so once
a batch is written it sits in the kernel and survives `kill -9` of the process. Each
document ends with `...`, which lets the reader tell a complete last event from a cut one.
The format is described in docs/recording-format.md.

The file is opened for appending, and truncated under the writer (`logrotate`'s
`copytruncate` copies a file, then empties it) it goes on at its new end: no hole of NUL
bytes where the old text was. The writer notices the file shrank, and writes the header
again before what follows, with the `exchange-opened` of every exchange still open: the
emptied file is a recording of its own, readable by `mcp-tap show`, from the truncation on.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from mcp_tap.protocol.codec import event_to_dict
from mcp_tap.protocol.events import ExchangeClosed, ExchangeOpened, Fault, TapEvent
from mcp_tap.protocol.redaction import RedactionRules, Redactor
from mcp_tap.recording.lock import hold_while_writing
from mcp_tap.recording.yaml_emit import Memo, Reusable, emit_document

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
    """Subscriber writing every event, redacted, to a new YAML file via a writer thread."""

    def __init__(
        self,
        path: str | Path | None,
        target: str | None,
        rules: RedactionRules | None = None,
        started: datetime | None = None,
        overwrite: bool = False,
        stdio: StdioOrigin | None = None,
        unique: bool = False,
    ) -> None:
        """Create the file (the default name when `path` is None) and write its header.

        `stdio`: the recording is of a stdio server's pipes, not of HTTP to `target`.
        `unique`: a taken `path` gets a `-2`, `-3`... suffix instead of failing.
        Raises OSError (FileExistsError included, unless `overwrite`) when the file cannot
        be created.
        """
        started = started or utc_now()
        if path is None:
            default = default_recording_path(target, started, stdio=stdio)
            self._fd, self.path = open_exclusive(default, True)
        else:
            self._fd, self.path = open_exclusive(Path(path), unique, overwrite)
        hold_while_writing(self._fd)  # `show --follow` knows the session is over when it ends
        self._redact = Redactor(rules) if rules is not None else None
        self._memo = Memo()  # used by the writer thread only
        self.error: OSError | None = None  # set when the disk refused a write
        # A deque and one wake-up per burst: waking the writer for every event costs the
        # event loop more than the event itself (a futex call per put).
        self._pending: deque[object] = deque()
        self._wake = threading.Event()
        self._awake = False  # the writer was woken and has not yet taken what is pending
        self._closed = False
        header = PREAMBLE + emit_document(recording_header(target, started, rules, stdio))
        self._header = header.encode("utf-8")
        # What a file truncated under us needs first (the writer thread's): where our last
        # write ended, and the opening document of each exchange still open.
        self._end = 0
        self._open: dict[int, str] = {}
        self._changes: list[tuple[int, str | None]] = []  # exchanges a batch opens, closes
        try:
            self._append(self._header)
        except OSError:
            os.close(self._fd)
            raise
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._run, name="mcp-tap-recorder", daemon=True)
        self._thread.start()

    def handle(self, event: TapEvent) -> None:
        """Queue the event for the writer thread; O(1), never blocks, never drops."""
        if not self._closed:
            self._pending.append(event)
            if not self._awake:
                self._awake = True
                self._wake.set()

    def close(self) -> None:
        """Write everything queued, stop the thread, close the file. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._pending.append(_STOP)
        self._wake.set()
        self._thread.join()
        os.close(self._fd)

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
                    if self._write_batch([self._pending.popleft() for _ in range(count)]):
                        return
                self._awake = False  # from now on, handle() wakes us
                if self._pending:  # something slipped in before that: go on
                    continue
                break

    def _write_batch(self, batch: list[object]) -> bool:
        """Write a batch of events; True when it held the stop marker."""
        documents = []
        self._changes = []
        # A small batch means requests come one at a time, and each waits for the GIL while
        # the writer holds it. A large one means a flood, which a yielding writer would not
        # keep up with: a busy loop that takes the GIL keeps it until a switch is forced.
        yielding = len(batch) <= SMALL_BATCH
        pause_at = time.perf_counter() + WORK_SLICE
        for item in batch:
            if item is not _STOP and self.error is None:
                documents.append(self._document(cast(TapEvent, item)))
                if yielding and time.perf_counter() >= pause_at:
                    time.sleep(0)  # the event loop, if it waits for the GIL, takes it now
                    pause_at = time.perf_counter() + WORK_SLICE
        if documents:
            self._write("".join(documents).encode("utf-8"))
        for exchange_id, opening in self._changes:
            if opening is None:
                self._open.pop(exchange_id, None)
            else:
                self._open[exchange_id] = opening
        return batch[-1] is _STOP

    def _document(self, event: TapEvent) -> str:
        try:
            if self._redact is not None:
                event = self._redact(event)
            document = emit_document(self._prepare(event_to_dict(event)))
            if isinstance(event, ExchangeOpened):
                self._changes.append((event.exchange_id, document))
            elif isinstance(event, ExchangeClosed):
                self._changes.append((event.exchange_id, None))
            return document
        except Exception as error:  # one odd event must cost one document, not the recording
            log.warning("could not record %r: %s", type(event).__name__, error)
            exchange_id = getattr(event, "exchange_id", None)
            fault = Fault(event.time, exchange_id, "recording-error", f"not recorded: {error}")
            return emit_document(event_to_dict(fault))

    def _prepare(self, data: dict[str, Any]) -> dict[str, Any]:
        """Round the time to microseconds (finer is noise, and longer to read), and mark the
        parts of an event that tend to repeat verbatim: headers, and a message's result,
        params or error (whose id alone changes from one tools/list to the next)."""
        if isinstance(data.get("time"), float):
            data["time"] = round(data["time"], 6)
        if "headers" in data:
            data["headers"] = Reusable(data["headers"], self._memo)
        message = data.get("message")
        payload = message.get("json") if message is not None else None
        if message is not None and type(payload) is dict:
            payload = message["json"] = dict(payload)  # a copy: the event's own is shared
            for key in ("result", "params", "error"):
                if key in payload:
                    payload[key] = Reusable(payload[key], self._memo)
        return data

    def _write(self, data: bytes) -> None:
        try:
            if os.fstat(self._fd).st_size < self._end:  # emptied since our last write
                data = self._restart() + data
            self._append(data)
        except OSError as error:  # e.g. a full disk: stop writing, keep the proxy running
            log.error("recording to %s stopped: %s", self.path, error)
            self.error = error

    def _restart(self) -> bytes:
        """What a truncated file needs before the next events: a note, the header and the
        exchanges still open (a truncation between the size check and the write is missed:
        that batch then starts the file, and `show` refuses it)."""
        log.warning("%s was truncated while recorded: the header is written again", self.path)
        when = utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        note = f"# truncated while recorded, at {when}: the header again, then open exchanges\n"
        return note.encode() + self._header + "".join(self._open.values()).encode("utf-8")

    def _append(self, data: bytes) -> None:
        _write_all(self._fd, data)
        # With O_APPEND each write first moves the offset to the end of the file: after it,
        # the offset is where our text ends, whatever else has happened to the file.
        self._end = os.lseek(self._fd, 0, os.SEEK_CUR)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]  # os.write may write less than asked

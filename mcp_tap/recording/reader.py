"""Read a YAML recording back into tap events (the format: docs/recording-format.md).

A recording is read as a stream: `open_recording` reads and checks the header, and each
pass over the `RecordingFile` reads the file again, a batch of documents at a time
(`documents.py`), so memory does not grow with the file; `load_recording` keeps every event
in a list, for the commands that need them all at once.

Only a safe loader is used, without aliases (`documents.RecordingLoader`), so a file can
never make the reader build arbitrary Python objects or expand a few bytes into gigabytes.
Every field is checked for its type as the event is built (`protocol.event_fields`).

A recording cut short by a crash or `kill -9` still loads: the writer ends every document
with `...`, so a last document without its end marker (or one that does not parse) is
dropped with a warning and everything before it is kept. Anything else that is wrong (no
file, not YAML, not a recording, another format version, a field of the wrong type) raises
`RecordingError` with one line meant for a person, naming the document: the header is
document 0 and the events are documents 1, 2, ... in file order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import yaml

from mcp_tap.protocol.codec import DecodeError, event_from_dict
from mcp_tap.protocol.events import TapEvent
from mcp_tap.recording.documents import (
    BATCH_DOCUMENTS,
    Chunk,
    describe,
    is_refusal,
    load_batch,
    load_one,
    split_documents,
)
from mcp_tap.recording.writer import FORMAT_NAME, READABLE_VERSIONS


class RecordingError(Exception):
    """A file that cannot be read as a recording; `str()` is one line for a person."""


@dataclass
class Recording:
    """A loaded recording: its header document, its events in order, and what was odd."""

    header: dict[str, Any]
    events: list[TapEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[TapEvent]:
        """The events, as a pass over a `RecordingFile` gives them."""
        return iter(self.events)


class EventSource(Protocol):
    """A recording as its readers need it: a header, events to iterate (as often as needed),
    and the warnings of the last complete pass. `Recording` and `RecordingFile` are both."""

    header: dict[str, Any]
    warnings: list[str]

    def __iter__(self) -> Iterator[TapEvent]: ...


KEEP_EVENTS = 10_000  # events a recording file keeps for its next pass (about 10-20 MB)
Rows = Callable[[], Iterator[str]]  # a fresh pass over the lines of a recording


class RecordingFile:
    """A recording read as a stream: the header now, the events on each pass over it.

    Iterating reads the file again from the start, unless the file holds at most `keep`
    events: then the first complete pass keeps them and the next passes cost nothing (a small
    file read twice by `show` pays for one parse, a large one holds `keep` events at most).
    `warnings` holds what the last complete pass found odd (a cut end). A broken document
    raises RecordingError when a pass reaches it, so a command that must not act on half a
    file makes a pass before it acts.
    """

    def __init__(self, name: str, rows: Rows, keep: int = KEEP_EVENTS) -> None:
        """Read and check the header; raise RecordingError when it is not a recording."""
        self.name = name
        self._rows = rows
        self._keep = keep
        self._kept: list[TapEvent] | None = None
        self.warnings: list[str] = []
        first = next(split_documents(rows()), None)
        if first is None:
            raise RecordingError(f"{name}: empty file, not an mcp-tap recording")
        try:
            self.header = check_header(load_one(first), name)
        except yaml.YAMLError as error:
            if is_refusal(error):
                raise RecordingError(f"{name}: document 0: {describe(error, first)}") from None
            raise RecordingError(f"{name}: not YAML: {describe(error, first)}") from None

    def __iter__(self) -> Iterator[TapEvent]:
        """Every event, in file order, read from the file one batch at a time."""
        if self._kept is not None:
            yield from self._kept
            return
        kept: list[TapEvent] | None = []
        for event in self._read():
            if kept is not None:
                kept.append(event)
                if len(kept) > self._keep:
                    kept = None  # a large file: read it again on the next pass
            yield event
        self._kept = kept

    def _read(self) -> Iterator[TapEvent]:
        warnings: list[str] = []
        chunks = split_documents(self._rows())
        writer_style = next(chunks).terminated  # the header; the writer terminates every one
        batch: list[tuple[int, Chunk, bool]] = []
        index = 0
        for chunk, last in _with_last(chunks):
            index += 1
            # A hand-written file may have no end markers; then only a parse error can
            # reveal a cut.
            if last and writer_style and not chunk.terminated:
                warnings.append(_cut(self.name, chunk, "it has no end marker"))
                break
            batch.append((index, chunk, last))
            if len(batch) >= BATCH_DOCUMENTS:
                yield from self._decode(batch, warnings)
                batch = []
        yield from self._decode(batch, warnings)
        self.warnings = warnings

    def _decode(
        self, batch: list[tuple[int, Chunk, bool]], warnings: list[str]
    ) -> Iterator[TapEvent]:
        datas = load_batch([chunk for _, chunk, _ in batch]) if batch else []
        for (index, chunk, last), data in zip(batch, datas, strict=True):
            try:
                if isinstance(data, yaml.YAMLError):
                    raise data
                if data is not None:  # None: an empty document, e.g. a bare `---`
                    yield event_from_dict(data)
            except (yaml.YAMLError, DecodeError) as error:
                problem = describe(error, chunk)
                refused = isinstance(error, yaml.YAMLError) and is_refusal(error)
                if refused or not last or chunk.terminated:
                    where = f"document {index}, line {chunk.line}"
                    raise RecordingError(f"{self.name}: {where}: {problem}") from None
                warnings.append(_cut(self.name, chunk, problem))


def _with_last(chunks: Iterator[Chunk]) -> Iterator[tuple[Chunk, bool]]:
    """Each chunk with whether it is the last one (one chunk of look-ahead)."""
    previous = next(chunks, None)
    for chunk in chunks:
        assert previous is not None
        yield previous, False
        previous = chunk
    if previous is not None:
        yield previous, True


def open_recording(path: str | Path) -> RecordingFile:
    """`path` as a stream of events; raise RecordingError when it is not a recording."""
    path = Path(path)
    try:
        with path.open("rb") as probe:
            probe.read(1)
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{path}: is a directory, not a recording") from None
    except OSError as error:
        raise RecordingError(f"{path}: cannot read: {error.strerror or error}") from None
    return RecordingFile(str(path), lambda: _file_rows(path))


def _file_rows(path: Path) -> Iterator[str]:
    number = 0
    try:
        with path.open(encoding="utf-8") as lines:
            for number, row in enumerate(lines, start=1):  # noqa: B007 (read after the loop)
                yield row
    except UnicodeDecodeError:
        where = f"line {number + 1}" if number else "the start"
        raise RecordingError(f"{path}: not a text file (not UTF-8 at {where})") from None
    except OSError as error:
        raise RecordingError(f"{path}: cannot read: {error.strerror or error}") from None


def load_recording(path: str | Path) -> Recording:
    """Load all of `path` into memory; raise RecordingError when it is not a recording."""
    return _loaded(open_recording(path))


def parse_recording(text: str, name: str = "<recording>") -> Recording:
    """Parse a recording's text; see `load_recording`."""
    return _loaded(RecordingFile(name, lambda: iter(text.split("\n"))))


def _loaded(stream: RecordingFile) -> Recording:
    events = list(stream)
    return Recording(stream.header, events, stream.warnings)


def check_header(data: Any, name: str) -> dict[str, Any]:
    """The header document, checked: an mcp-tap recording of a version this reader knows."""
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise RecordingError(f"{name}: not an mcp-tap recording (no `format: {FORMAT_NAME}`)")
    version = data.get("version")
    if version is None:
        raise RecordingError(f"{name}: not an mcp-tap recording header: no `version`")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        readable = " and ".join(str(v) for v in READABLE_VERSIONS)
        raise RecordingError(
            f"{name}: recording format version {version!r} is not supported "
            f"(this mcp-tap reads versions {readable})"
        )
    for key, expected in _HEADER_FIELDS.items():
        value = data.get(key)
        if value is not None and not _is(value, expected):
            raise RecordingError(f"{name}: document 0: field `{key}` must be {expected}")
    if version == 1:
        data.setdefault("transport", "http")  # version 1 knew no other carrier
    return data


def started_epoch(header: dict[str, Any]) -> float | None:
    """A recording's `started` (ISO 8601, UTC) as seconds since 1970; None without one."""
    try:
        return datetime.fromisoformat(
            str(header.get("started", "")).replace("Z", "+00:00")
        ).timestamp()
    except ValueError:
        return None


_HEADER_FIELDS = {
    "target": "a string",
    "started": "a string",
    "transport": "a string",
    "command": "a list of strings",
    "environment": "a list of strings",
    "redaction": "a mapping",
}


def _is(value: Any, expected: str) -> bool:
    if expected == "a string":
        return isinstance(value, str)
    if expected == "a mapping":
        return isinstance(value, dict)
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _cut(name: str, chunk: Chunk, why: str) -> str:
    return f"{name}: line {chunk.line}: last event dropped, the recording was cut short ({why})"

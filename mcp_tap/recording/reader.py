"""Read a YAML recording back into tap events (the format: docs/recording-format.md).

Only the YAML safe loaders are used, so a file can never make the reader build arbitrary
Python objects: a `!!python/...` tag is an error, not an object.

A recording cut short by a crash or `kill -9` still loads: the writer ends every document
with `...`, so a last document without its end marker (or one that does not parse) is
dropped with a warning and everything before it is kept. Anything else that is wrong (no
file, not YAML, not a recording, another format version) raises `RecordingError` with one
line meant for a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from mcp_tap.protocol.codec import DecodeError, event_from_dict
from mcp_tap.protocol.events import TapEvent
from mcp_tap.recording.writer import FORMAT_NAME, READABLE_VERSIONS

SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RecordingError(Exception):
    """A file that cannot be read as a recording; `str()` is one line for a person."""


@dataclass
class Recording:
    """A loaded recording: its header document, its events in order, and what was odd."""

    header: dict[str, Any]
    events: list[TapEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Chunk:
    text: str
    line: int  # 1-based line of the document's first content (its `---`)
    terminated: bool  # ends with a `...` line
    offset: int  # lines before `text` starts (comments before a document are part of it)


def load_recording(path: str | Path) -> Recording:
    """Load `path`; raise RecordingError when it is not a readable recording."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{path}: is a directory, not a recording") from None
    except OSError as error:
        raise RecordingError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise RecordingError(f"{path}: not a text file (byte {error.start} is not UTF-8)") from None
    return parse_recording(text, str(path))


def parse_recording(text: str, name: str = "<recording>") -> Recording:
    """Parse a recording's text; see `load_recording`."""
    chunks = _split(text)
    if not chunks:
        raise RecordingError(f"{name}: empty file, not an mcp-tap recording")
    try:
        header = check_header(_load(chunks[0], name), name)
    except yaml.YAMLError as error:
        raise RecordingError(f"{name}: not YAML: {_problem(error, chunks[0])}") from None
    recording = Recording(header)
    # The writer terminates every document; a hand-written file may not, and then only a
    # parse error can reveal a cut.
    writer_style, chunks = chunks[0].terminated, chunks[1:]
    if chunks and writer_style and not chunks[-1].terminated:
        recording.warnings.append(_cut(name, chunks.pop(), "it has no end marker"))
    for index, (chunk, data) in enumerate(zip(chunks, _documents(chunks, name), strict=True)):
        try:
            if isinstance(data, yaml.YAMLError):
                raise data
            if data is not None:  # None: an empty document, e.g. a bare `---`
                recording.events.append(event_from_dict(data))
        except (yaml.YAMLError, DecodeError) as error:
            problem = _problem(error, chunk)
            if index < len(chunks) - 1:
                raise RecordingError(f"{name}: line {chunk.line}: {problem}") from None
            recording.warnings.append(_cut(name, chunk, problem))
    return recording


def _documents(chunks: list[_Chunk], name: str) -> list[Any]:
    """Each chunk's data, or the YAMLError it raised: one pass when it all parses."""
    try:
        documents = list(yaml.load_all("".join(c.text for c in chunks), Loader=SAFE_LOADER))
        if len(documents) == len(chunks):
            return documents
    except yaml.YAMLError:
        pass  # find out which document it was, below
    results: list[Any] = []
    for chunk in chunks:
        try:
            results.append(_load(chunk, name))
        except yaml.YAMLError as error:
            results.append(error)
    return results


def _load(chunk: _Chunk, name: str) -> Any:
    """One document through the safe loader; a tag it refuses is fatal wherever it is."""
    try:
        return yaml.load(chunk.text, Loader=SAFE_LOADER)
    except yaml.constructor.ConstructorError as error:
        found = re.search(r"'(?:tag:yaml\.org,2002:)?([^']+)'", str(error))
        tag = f" !!{found.group(1)}" if found else ""
        raise RecordingError(
            f"{name}: line {chunk.line}: unsupported YAML tag{tag} (only plain data is read)"
        ) from None


def _split(text: str) -> list[_Chunk]:
    """The documents of a stream, in one pass over its lines, before any parsing.

    A document starts at a `---` line and ends after a `...` line; anything after the last
    end marker (a cut `---`, say) is a document of its own, unterminated. An emitter never
    starts a content line with either marker (YAML would read it as one), so this is exact.
    """
    chunks: list[_Chunk] = []
    rows: list[str] = []
    first, offset, content = 1, 0, False

    def cut(terminated: bool) -> None:
        nonlocal rows, content
        if content:
            chunks.append(_Chunk("\n".join(rows) + "\n", first, terminated, offset))
        rows, content = [], False

    for number, row in enumerate(text.split("\n"), start=1):
        bare = row.rstrip()
        if content and (bare == "---" or row.startswith(("--- ", "---\t"))):
            cut(False)
        if not rows:
            offset = number - 1
        rows.append(row)
        if not content and bare and bare[0] not in "#%":  # comments, directives
            first, content = number, True
        if content and bare == "...":
            cut(True)
    cut(False)
    return chunks


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


def _cut(name: str, chunk: _Chunk, why: str) -> str:
    return f"{name}: line {chunk.line}: last event dropped, the recording was cut short ({why})"


def _problem(error: Exception, chunk: _Chunk) -> str:
    """One line from a YAML or decode error (PyYAML's own messages span several lines)."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark
        where = f" at line {chunk.offset + mark.line + 1}" if mark is not None else ""
        return f"{error.problem or error.context or 'invalid YAML'}{where}"
    return " ".join(str(error).split())

"""Follow a recording that is still being written: `tail -f`, one whole event at a time.

The writer ends every document with a `...` line and holds an advisory lock on the file
for as long as it writes (`lock.py`), so a follower knows both where an event ends and
when the session is over, without any change to the format.
"""

from __future__ import annotations

import codecs
import os
from typing import Any

import yaml

from mcp_tap.protocol.codec import DecodeError, event_from_dict
from mcp_tap.protocol.events import TapEvent
from mcp_tap.recording.documents import RecordingLoader
from mcp_tap.recording.reader import RecordingError, check_header

END_OF_DOCUMENT = "\n...\n"


class RecordingTail:
    """Sans-IO: `feed(text) -> events` for each complete document; the first is the header."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.header: dict[str, Any] | None = None
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._buffer = ""
        self._documents = 0  # complete documents read so far: the header is document 0

    def feed(self, data: bytes) -> list[TapEvent]:
        """The events completed by `data`; raises RecordingError for a file that is not one."""
        self._buffer += self._text.decode(data)
        end = self._buffer.rfind(END_OF_DOCUMENT)
        if end < 0:
            return []
        complete, self._buffer = self._buffer[: end + 5], self._buffer[end + 5 :]
        events: list[TapEvent] = []
        for document in complete.split(END_OF_DOCUMENT):
            if not document.strip(" \n"):
                continue
            where = f"{self.name}: document {self._documents}"
            self._documents += 1
            try:
                data_ = yaml.load(document, Loader=RecordingLoader)
            except yaml.YAMLError as error:
                problem = " ".join(str(getattr(error, "problem", None) or error).split())
                raise RecordingError(f"{where}: not YAML: {problem}") from None
            if self.header is None:
                self.header = check_header(data_, self.name)
            elif data_ is not None:
                try:
                    events.append(event_from_dict(data_))
                except DecodeError as error:
                    raise RecordingError(f"{where}: {error}") from None
        return events


def read_available(fd: int, size: int = 1 << 20) -> bytes:
    """What has been appended since the last read (nothing: b"")."""
    chunks = []
    while chunk := os.read(fd, size):
        chunks.append(chunk)
    return b"".join(chunks)

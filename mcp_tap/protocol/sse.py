"""A sans-IO decoder for Server-Sent Events (the WHATWG `text/event-stream` rules).

Feed it byte chunks split anywhere; it returns the events completed by each chunk. It never
touches a socket, so the proxy, replay and tests share one parser. The proxy forwards the
original bytes and feeds a copy here: nothing this decoder does can change what a client gets.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from itertools import islice


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event. `event` is "message" when the stream named no type."""

    data: str
    event: str = "message"
    id: str | None = None  # the last event id in force when this event was dispatched
    retry: int | None = None  # a `retry:` value seen in this event's block, if any
    cut_from: int = 0  # when over the decoder's limit: the block's size; `data` is its start


@dataclass(frozen=True, slots=True)
class SSEComment:
    """A comment line (`: ping`); keepalives are comments and are never messages."""

    text: str


@dataclass(frozen=True, slots=True)
class SSEPriming:
    """A block with no data, or only empty data: it carries no message, yet its id counts.

    2025-11-25 servers send one at the start of a stream so the client can resume from it.
    """

    id: str | None
    retry: int | None = None


SSEItem = SSEEvent | SSEComment | SSEPriming


KEPT_OF_A_CUT_EVENT = 1024  # characters of an over-long event kept to show what it was
_LINE_END = re.compile("\r\n|\r|\n")  # the three line ends the format allows


class SSEDecoder:
    """Incremental SSE parser: `feed(chunk) -> items`, `close() -> items`.

    With `max_event`, an event whose data is longer than that many characters is not held:
    the start of its data is kept, the rest is counted and dropped, and it comes out as an
    `SSEEvent` with `cut_from` set, so memory stays bounded whatever the stream sends. Any
    other line (a comment, `event:`, `id:`) longer than the limit is dropped whole. Either way
    the items do not depend on how the stream was chunked, only how much of a cut event's
    start is kept does.
    """

    def __init__(self, max_event: int | None = None) -> None:
        self._max_event = max_event
        self._size = 0  # characters of the current block so far, terminators excluded
        self._cut: str | None = None  # the kept start of a block that passed the limit
        self._skip_line = False  # the rest of the current line is over the limit: not kept
        self._skip_counts = False  # ... and its characters count (a data line of a cut block)
        self._held = 0  # characters in _pending
        self._value_at: int | None = None  # the held line: where its data value starts (0: none)
        self._bom = 0  # the held line starts with a BOM that will be stripped
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []  # parts of a line not yet terminated
        self._after_cr = False  # the last chunk ended in CR: a following LF belongs to it
        self._first_line = True  # a leading BOM is stripped from the first line only
        self._data: list[str] = []
        self._event = ""
        self._retry: int | None = None
        self._saw_field = False  # the current block has at least one field line
        self._id_buffer: str | None = None  # the spec's "last event ID buffer"
        self._last_id: str | None = None  # committed from the buffer when a block dispatches

    @property
    def last_event_id(self) -> str | None:
        """The id a client would send as `Last-Event-ID` after what has been fed so far."""
        return self._last_id

    def feed(self, chunk: bytes) -> list[SSEItem]:
        """Decode a chunk and return every item it completed."""
        return self._feed_text(self._text.decode(chunk))

    def close(self) -> list[SSEItem]:
        """End of stream: a final unterminated line is processed, an unfinished block dropped."""
        items = self._feed_text(self._text.decode(b"", final=True))
        if self._pending:
            line = "".join(self._pending)
            self._pending, self._held, self._value_at = [], 0, None
            self._process_line(line, items)
        return items  # per the spec, an event not followed by a blank line is discarded

    def _feed_text(self, text: str) -> list[SSEItem]:
        # Linear in the input: the text is cut at its line ends in one pass (in C), and a long
        # unterminated line (a 10 MB JSON body in one `data:`) is kept as parts and joined once.
        items: list[SSEItem] = []
        if not text:
            return items
        if self._after_cr:
            self._after_cr = False
            if text[0] == "\n":  # the LF of a CRLF whose CR ended the last chunk
                text = text[1:]
                if not text:
                    return items
        self._after_cr = text[-1] == "\r"  # the LF of this CR may arrive in the next chunk
        lines = _LINE_END.split(text)
        rest = lines.pop()  # after the last line end: the start of a line, or nothing
        first = 0
        if lines and self._skip_line:  # the end of a line `_hold` found over the limit
            self._skip_line = False
            if self._skip_counts:
                self._size += len(lines[0])
            first = 1
        elif lines and self._pending:  # the end of a line held from earlier chunks
            lines[0] = "".join(self._pending) + lines[0]
            self._pending, self._held, self._value_at = [], 0, None
        process = self._process_line
        for line in islice(lines, first, None):
            process(line, items)
        if rest:
            self._hold(rest)
        return items

    def _hold(self, part: str) -> None:
        """Keep part of an unterminated line, unless it is already over the limit.

        The limits `_process_line` applies to whole lines, decided as soon as the line's start
        says what it is: a data value that takes its block over the limit cuts the block, any
        other line over the limit is dropped.
        """
        if self._skip_line:
            if self._skip_counts:
                self._size += len(part)
            return
        self._pending.append(part)
        self._held += len(part)
        limit = self._max_event
        if limit is None:
            return
        if self._value_at is None:
            self._value_at = self._value_start()
            if self._value_at is None:
                return  # too short to tell a data line from another
        if self._value_at > 0:  # a data line: its value counts towards the block
            value = self._held - self._value_at
            if self._size + value + 1 <= limit:
                return
            self._cut_block("".join(self._pending)[self._value_at :])
            self._size += value + 1
            self._skip_counts = True
        elif self._held - self._bom > limit:
            self._skip_counts = False
        else:
            return
        self._first_line = False
        self._pending, self._held, self._value_at = [], 0, None
        self._skip_line = True

    def _value_start(self) -> int | None:
        """Where the value of the held data line starts; 0: not a data line; None: unknown."""
        head = ""
        for piece in self._pending:  # the first few characters, without joining it all
            head += piece[:8]
            if len(head) >= 8:
                break
        self._bom = 1 if self._first_line and head.startswith("\ufeff") else 0
        head = head[self._bom :]
        if head.startswith("data: ") or (head.startswith("data:") and len(head) > 5):
            return self._bom + (6 if head[5] == " " else 5)
        if "data:".startswith(head):
            return None  # `dat`, `data`, `data:` (a space may follow): not yet known
        return 0

    def _cut_block(self, unterminated: str) -> None:
        if self._cut is None:
            start = "\n".join(self._data) + ("\n" if self._data else "") + unterminated
            self._cut = start[:KEPT_OF_A_CUT_EVENT]
            self._data = []
        self._saw_field = True

    def _process_line(self, line: str, items: list[SSEItem]) -> None:
        if self._first_line:
            self._first_line = False
            if line.startswith("\ufeff"):
                line = line[1:]
        if not line:
            self._dispatch(items)
            return
        limit = self._max_event
        if limit is not None and len(line) > limit and line.partition(":")[0] != "data":
            return  # a comment or a field over the limit: dropped, as `_hold` drops it
        if line[0] == ":":
            items.append(SSEComment(line[1:].removeprefix(" ")))
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        self._saw_field = True
        if name == "data":
            self._size += len(value) + 1
            if self._cut is not None:
                return
            self._data.append(value)
            if self._max_event is not None and self._size > self._max_event:
                self._cut_block("")
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id_buffer = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self._retry = int(value)
        # any other field name is ignored, as the spec says

    def _dispatch(self, items: list[SSEItem]) -> None:
        if not self._saw_field:
            return
        self._last_id = self._id_buffer
        if self._cut is not None:
            items.append(
                SSEEvent(
                    data=self._cut,
                    event=self._event or "message",
                    id=self._last_id,
                    retry=self._retry,
                    cut_from=self._size,
                )
            )
            self._cut = None
            self._reset_block()
            return
        data = "\n".join(self._data)
        if data:
            items.append(
                SSEEvent(
                    data=data,
                    event=self._event or "message",
                    id=self._last_id,
                    retry=self._retry,
                )
            )
        else:
            items.append(SSEPriming(id=self._last_id, retry=self._retry))
        self._reset_block()

    def _reset_block(self) -> None:
        self._data = []
        self._event = ""
        self._retry = None
        self._saw_field = False
        self._size = 0

"""Split a byte stream into newline-delimited messages: the stdio transport's framing.

Sans-IO: `LineDecoder.feed(bytes)` returns the lines that the bytes completed, each with its
`\\n` (and any `\\r` before it) still on, so a caller that wants the wire bytes has them. A
line longer than the cap is not kept whole: its bytes are counted and dropped until its
newline, and it comes out as one `LongLine` saying how long it was. The cap bounds the memory
one endless line can take; it has nothing to do with forwarding, which never waits for a line.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_LINE = 16 * 1024 * 1024  # the HTTP carrier's --max-body: the same size of message


@dataclass(frozen=True, slots=True)
class LongLine:
    """A line that was over the cap: only its length is known."""

    size: int  # bytes, terminator included when it had one
    complete: bool  # False when the stream ended before its newline


def strip_terminator(line: bytes) -> bytes:
    """A line without its `\\n` and one `\\r` before it (hosts on Windows write `\\r\\n`)."""
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line


class LineDecoder:
    """Newline framing with a cap on the bytes one line may hold (see the module docstring)."""

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError("the maximum line size must be at least 1 byte")
        self.max_line = max_line
        self._parts: list[bytes] = []  # the unfinished line, in pieces: no quadratic joins
        self._held = 0  # bytes in _parts
        self._skipping = 0  # > 0: inside an over-long line, this many bytes seen so far

    def feed(self, data: bytes) -> list[bytes | LongLine]:
        """The lines `data` completed, in order."""
        out: list[bytes | LongLine] = []
        start = 0
        size = len(data)
        while start < size:
            end = data.find(b"\n", start)
            if end < 0:
                self._hold(data[start:] if start else data)
                break
            end += 1
            if self._skipping:
                out.append(LongLine(self._skipping + end - start, True))
                self._skipping = 0
            elif self._held:
                self._hold(data[start:end])
                if self._skipping:  # that piece took the line over the cap
                    out.append(LongLine(self._skipping, True))
                    self._skipping = 0
                else:
                    out.append(b"".join(self._parts))
                    self._parts, self._held = [], 0
            elif end - start > self.max_line:
                out.append(LongLine(end - start, True))
            else:
                out.append(data[start:end] if start or end < size else data)
            start = end
        return out

    def close(self) -> list[bytes | LongLine]:
        """The stream ended: a last line without its newline, if there was one."""
        out: list[bytes | LongLine] = []
        if self._skipping:
            out.append(LongLine(self._skipping, False))
        elif self._held:
            out.append(b"".join(self._parts))
        self._parts, self._held, self._skipping = [], 0, 0
        return out

    def _hold(self, piece: bytes) -> None:
        if self._skipping:
            self._skipping += len(piece)
            return
        self._held += len(piece)
        if self._held > self.max_line:
            self._skipping, self._parts, self._held = self._held, [], 0
        else:
            self._parts.append(piece)

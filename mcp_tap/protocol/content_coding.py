"""Undo a body's `Content-Encoding` for inspection: `feed(chunk) -> plain pieces`, sans-IO.

The bytes a client receives are never touched; only the tap's copy is decoded, as it streams,
so that a gzip-compressed SSE stream shows its progress as it comes. Output is handed out in
pieces of at most `PIECE` bytes, so a small compressed chunk that expands enormously (a
decompression bomb) is never held in memory whole.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import brotli

PIECE = 1 << 20


class UnsupportedEncoding(ValueError):
    """A content coding this decoder does not know."""


def decodable(encoding: str | None) -> bool:
    """True when `encoding` is absent, identity, or one this module can undo."""
    try:
        ContentDecoder(encoding)
    except UnsupportedEncoding:
        return False
    return True


class ContentDecoder:
    """Streaming decoder for one body's Content-Encoding (gzip, deflate, br, identity)."""

    def __init__(self, encoding: str | None) -> None:
        codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise UnsupportedEncoding(", ".join(codings))  # stacked codings: not worth it
        self.encoding = codings[0] if codings else None
        self._zlib: Any = None
        self._brotli: Any = None
        self._failed = False
        if self.encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding == "deflate":
            self._zlib = None  # zlib-wrapped or raw: told apart by the first bytes
        elif self.encoding == "br":
            self._brotli = brotli.Decompressor()
        elif self.encoding is not None:
            raise UnsupportedEncoding(self.encoding)

    @property
    def failed(self) -> bool:
        """The body did not decode; nothing more will come out."""
        return self._failed

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """The plain bytes that `chunk` completes, in pieces of at most PIECE bytes."""
        if self.encoding is None:
            if chunk:
                yield chunk
            return
        if self._failed or not chunk:
            return
        try:
            if self._brotli is not None:
                yield from _pieces(self._brotli.process(chunk))
                return
            if self._zlib is None:  # deflate: RFC 9110 says zlib; some servers send it raw
                raw = (chunk[0] & 0x0F) != 8
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
            data = chunk
            while data:
                out = self._zlib.decompress(data, PIECE)
                if out:
                    yield out
                data = self._zlib.unconsumed_tail
        except Exception:  # zlib.error, brotli.error: a corrupt body is not inspected further
            self._failed = True

    def flush(self) -> Iterator[bytes]:
        """What the decoder still holds at the end of the body."""
        if self._zlib is not None and not self._failed:
            try:
                rest = self._zlib.flush()
            except zlib.error:
                self._failed = True
                return
            yield from _pieces(rest)


def _pieces(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), PIECE):
        yield data[start : start + PIECE]

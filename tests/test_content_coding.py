"""The tap's decoder for compressed bodies: streaming, split anywhere, bounded output."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest

from mcp_tap.protocol.content_coding import PIECE, ContentDecoder, UnsupportedEncoding, decodable

PLAIN = b'data: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n' * 200


def raw_deflate(data: bytes) -> bytes:
    """Deflate with no zlib wrapper, as some servers send it."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("gzip", gzip.compress(PLAIN)),
        ("x-gzip", gzip.compress(PLAIN)),
        ("deflate", zlib.compress(PLAIN)),
        ("deflate", raw_deflate(PLAIN)),
        ("br", brotli.compress(PLAIN)),
        ("identity", PLAIN),
        ("GZip", gzip.compress(PLAIN)),
    ],
)
def test_a_body_split_anywhere_decodes_to_the_original(encoding: str, encoded: bytes) -> None:
    for size in (1, 7, 4096):
        decoder = ContentDecoder(encoding)
        out = b"".join(
            piece
            for start in range(0, len(encoded), size)
            for piece in decoder.feed(encoded[start : start + size])
        )
        out += b"".join(decoder.flush())
        assert out == PLAIN and not decoder.failed


def test_a_bomb_comes_out_in_bounded_pieces() -> None:
    bomb = gzip.compress(b"\0" * (20 * PIECE))
    pieces = list(ContentDecoder("gzip").feed(bomb))
    assert max(len(p) for p in pieces) <= PIECE and sum(len(p) for p in pieces) == 20 * PIECE


def test_a_corrupt_body_fails_quietly() -> None:
    decoder = ContentDecoder("gzip")
    assert list(decoder.feed(b"not gzip at all")) == [] and decoder.failed


def test_unknown_and_stacked_codings_are_refused() -> None:
    for encoding in ("zstd", "compress", "gzip, br"):
        assert not decodable(encoding)
        with pytest.raises(UnsupportedEncoding):
            ContentDecoder(encoding)
    assert decodable(None) and decodable("identity")

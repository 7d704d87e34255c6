"""`LineDecoder`: newline framing of the stdio transport, however the bytes are chunked."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcp_tap.protocol.lines import LineDecoder, LongLine, strip_terminator


def decode(chunks: list[bytes], max_line: int = 1 << 20) -> list[bytes | LongLine]:
    decoder = LineDecoder(max_line)
    out: list[bytes | LongLine] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out + decoder.close()


def test_lines_keep_their_terminators() -> None:
    assert decode([b'{"a":1}\r\n{"b"', b":2}\n\n", b"tail"]) == [
        b'{"a":1}\r\n',
        b'{"b":2}\n',
        b"\n",
        b"tail",
    ]


def test_terminators_are_stripped_once() -> None:
    assert strip_terminator(b"x\r\n") == b"x"
    assert strip_terminator(b"x\n") == b"x"
    assert strip_terminator(b"x\r\r\n") == b"x\r"
    assert strip_terminator(b"x") == b"x"


def test_a_line_over_the_cap_is_measured_not_kept() -> None:
    assert decode([b"12345", b"6789\nok\n"], max_line=8) == [LongLine(10, True), b"ok\n"]
    assert decode([b"123456789\n"], max_line=8) == [LongLine(10, True)]
    assert decode([b"1234", b"56789"], max_line=8) == [LongLine(9, False)]
    assert decode([b"12345678"], max_line=8) == [b"12345678"]


@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=10))
def test_any_chunking_gives_the_same_lines(data: bytes, cuts: list[int]) -> None:
    points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    chunks = [data[a:b] for a, b in zip(points, points[1:], strict=False)]
    lines = decode(chunks)
    assert b"".join(x for x in lines if isinstance(x, bytes)) == data
    assert all(x.endswith(b"\n") for x in lines[:-1] if isinstance(x, bytes))

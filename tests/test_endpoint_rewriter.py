"""The 2024-11-05 `endpoint` event rewrite: POSTs must come back through the proxy."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from mcp_tap.protocol.endpoint import MAX_HELD_BYTES, EndpointRewriter

PROXY = "http://127.0.0.1:8890"
UPSTREAM_URL = "http://127.0.0.1:9000/messages/?session_id=abc"
PROXIED_URL = "http://127.0.0.1:8890/messages/?session_id=abc"
LATER = (
    b": ping - 2026-05-01 12:00:00\r\n\r\n"
    b'event: message\r\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\r\n\r\n'
    # a later event naming the upstream must not be touched
    b"event: endpoint\r\ndata: http://127.0.0.1:9000/messages/?session_id=abc\r\n\r\n"
)


def endpoint_event(url: str, eol: str = "\r\n") -> bytes:
    return f"event: endpoint{eol}data: {url}{eol}{eol}".encode()


def run(chunks: Iterable[bytes], origin: str = PROXY) -> bytes:
    rewriter = EndpointRewriter(origin)
    out = b"".join(rewriter.feed(chunk) for chunk in chunks)
    return out + rewriter.flush()


def test_relative_endpoint_passes_through_byte_identical() -> None:
    stream = endpoint_event("/messages/?session_id=abc") + LATER
    assert run([stream]) == stream


def test_absolute_endpoint_is_moved_to_the_proxy_origin() -> None:
    stream = endpoint_event(UPSTREAM_URL) + LATER
    assert run([stream]) == endpoint_event(PROXIED_URL) + LATER


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_rewrite_with_any_line_ending(eol: str) -> None:
    stream = endpoint_event(UPSTREAM_URL, eol)
    assert run([stream]) == endpoint_event(PROXIED_URL, eol)


def test_rewrite_with_data_without_space_and_comments_before() -> None:
    stream = b": hello\n\nevent:endpoint\ndata:" + UPSTREAM_URL.encode() + b"\n\n"
    expected = b": hello\n\nevent:endpoint\ndata:" + PROXIED_URL.encode() + b"\n\n"
    assert run([stream]) == expected


def test_rewrite_only_touches_the_endpoint_bytes() -> None:
    stream = endpoint_event(UPSTREAM_URL) + LATER
    out = run([stream])
    assert len(out) == len(stream) - len(UPSTREAM_URL) + len(PROXIED_URL)
    assert out.count(b"127.0.0.1:9000") == stream.count(b"127.0.0.1:9000") - 1


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        (UPSTREAM_URL, PROXIED_URL),
        (
            "https://mcp.example.com/messages/?session_id=abc",
            "http://127.0.0.1:8890/messages/?session_id=abc",
        ),
        (
            "http://localhost:9000/mcp/messages?session_id=a%2Fb%20c&x=1&x=2",
            "http://127.0.0.1:8890/mcp/messages?session_id=a%2Fb%20c&x=1&x=2",
        ),
        ("http://[::1]:9000/m/?session_id=9f1c2e", "http://127.0.0.1:8890/m/?session_id=9f1c2e"),
        ("http://user@host:9000/p;params?q=1", "http://127.0.0.1:8890/p;params?q=1"),
        ("http://host:9000?session_id=abc", "http://127.0.0.1:8890?session_id=abc"),
        ("http://host:9000/m/%7Euser/?a=%ZZ", "http://127.0.0.1:8890/m/%7Euser/?a=%ZZ"),
    ],
)
def test_rewrite_keeps_path_and_query_exactly(upstream: str, expected: str) -> None:
    rewriter = EndpointRewriter(PROXY)
    assert rewriter.rewrite(upstream) == expected
    assert run([endpoint_event(upstream)]) == endpoint_event(expected)


@pytest.mark.parametrize(
    "relative",
    [
        "/messages/?session_id=abc",
        "messages?session_id=abc",
        "?session_id=abc",
        "//host-only/path",
        "/",
    ],
)
def test_relative_urls_are_not_rewritten(relative: str) -> None:
    rewriter = EndpointRewriter(PROXY)
    assert rewriter.rewrite(relative) == relative
    stream = endpoint_event(relative) + LATER
    assert run([stream]) == stream


def test_proxy_origin_is_taken_from_the_given_origin() -> None:
    stream = endpoint_event(UPSTREAM_URL)
    assert run([stream], "http://tap.local:7000") == endpoint_event(
        "http://tap.local:7000/messages/?session_id=abc"
    )


def test_rewrite_when_split_at_every_byte_position() -> None:
    stream = endpoint_event(UPSTREAM_URL) + LATER
    expected = endpoint_event(PROXIED_URL) + LATER
    for i in range(len(stream) + 1):
        assert run([stream[:i], stream[i:]]) == expected, f"split at {i}"
    for i in range(len(stream) + 1):
        for j in range(i, len(stream) + 1, 17):
            assert run([stream[:i], stream[i:j], stream[j:]]) == expected, f"split at {i},{j}"


def test_rewrite_when_fed_one_byte_at_a_time() -> None:
    stream = endpoint_event(UPSTREAM_URL) + LATER
    rewriter = EndpointRewriter(PROXY)
    out = [rewriter.feed(stream[i : i + 1]) for i in range(len(stream))]
    first_end = len(endpoint_event(UPSTREAM_URL))
    # nothing is forwarded until the endpoint event is complete...
    assert all(part == b"" for part in out[: first_end - 2])
    # ...the CR that ends it releases the rewritten event; then bytes flow one by one
    assert out[first_end - 2] == endpoint_event(PROXIED_URL)[:-1]
    assert out[first_end - 1 :] == [stream[i : i + 1] for i in range(first_end - 1, len(stream))]
    assert rewriter.flush() == b""


def test_bytes_after_the_first_event_pass_through_untouched_and_immediately() -> None:
    rewriter = EndpointRewriter(PROXY)
    first = endpoint_event(UPSTREAM_URL, "\n")
    assert rewriter.passing_through is False
    assert rewriter.feed(first[:10]) == b""
    released = rewriter.feed(first[10:] + b": ping\n")
    assert released == endpoint_event(PROXIED_URL, "\n") + b": ping\n"
    assert rewriter.passing_through is True
    for chunk in [b"data: partial", b" line\n", b"\n", LATER, endpoint_event(UPSTREAM_URL), b""]:
        assert rewriter.feed(chunk) == chunk
    assert rewriter.flush() == b""


def test_first_event_not_endpoint_passes_through_unchanged() -> None:
    stream = b'data: {"jsonrpc":"2.0","method":"x"}\n\n' + endpoint_event(UPSTREAM_URL) + LATER
    rewriter = EndpointRewriter(PROXY)
    assert rewriter.feed(stream) == stream
    assert rewriter.passing_through is True
    assert rewriter.flush() == b""
    assert run([stream[:20], stream[20:]]) == stream


def test_priming_first_passes_through_unchanged() -> None:
    stream = b"id: 1\ndata: \n\n" + endpoint_event(UPSTREAM_URL)
    rewriter = EndpointRewriter(PROXY)
    assert rewriter.feed(stream) == stream
    assert rewriter.passing_through is True


def test_flush_returns_held_bytes_at_end_of_stream() -> None:
    rewriter = EndpointRewriter(PROXY)
    partial = b": hi\n\nevent: endpoint\ndata: " + UPSTREAM_URL.encode() + b"\n"
    assert rewriter.feed(partial[:15]) == b""
    assert rewriter.feed(partial[15:]) == b""
    assert rewriter.flush() == partial
    assert rewriter.flush() == b""


def test_flush_of_an_empty_stream() -> None:
    assert EndpointRewriter(PROXY).flush() == b""


def test_stream_that_names_no_endpoint_early_is_released_unchanged() -> None:
    rewriter = EndpointRewriter(PROXY)
    comment = b": " + b"x" * 1000 + b"\n"
    forwarded = b""
    fed = b""
    while not rewriter.passing_through:
        fed += comment
        forwarded += rewriter.feed(comment)
        assert len(fed) <= MAX_HELD_BYTES + len(comment)
    assert forwarded == fed
    assert rewriter.feed(endpoint_event(UPSTREAM_URL)) == endpoint_event(UPSTREAM_URL)

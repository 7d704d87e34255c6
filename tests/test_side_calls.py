"""`SideCalls` between two byte streams, in process: mcp-tap's own line waits for the end of
the host's, its answer and progress go to the call and never on, and every other byte goes
on in order; and the stdio resend's era check."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mcp_tap.protocol.events import (
    Direction,
    MessageKind,
    MessageSeen,
    RpcMessage,
    StreamKind,
    TapEvent,
)
from mcp_tap.replay.replayer import ReplayError
from mcp_tap.replay.stdio_resend import initialized, own_token, resend_over_stdio
from mcp_tap.stdio.side_calls import SideCallError, SideCalls


def wired() -> tuple[SideCalls, list[bytes], list[bytes], Any, Any]:
    to_server: list[bytes] = []
    to_host: list[bytes] = []
    side = SideCalls()
    write = side.server_writer(to_server.append, lambda: True)
    read = side.server_reader(to_host.append)
    return side, to_server, to_host, write, read


def request(own: str) -> dict[str, Any]:
    params = {"name": "echo", "_meta": {"progressToken": own}}
    return {"jsonrpc": "2.0", "id": own, "method": "tools/call", "params": params}


def test_the_call_goes_between_host_lines_and_its_answer_stays_away_from_the_host() -> None:
    async def scenario() -> None:
        side, to_server, to_host, write, read = wired()
        write(b'{"jsonrpc":"2.0","id":1,"meth')  # the host is in the middle of a line
        read(b'{"jsonrpc":"2.0","id":0,')  # and so is the server
        own = side.new_id()
        call = asyncio.create_task(side.call(request(own), 10))
        await asyncio.sleep(0)  # one loop turn: the call is written, or queued
        assert b"".join(to_server) == b'{"jsonrpc":"2.0","id":1,"meth'
        write(b'od":"ping"}\n{"jsonrpc"')
        assert to_server[1] == b'od":"ping"}\n'
        assert own.encode() in to_server[2] and to_server[2].endswith(b"\n")
        assert to_server[3] == b'{"jsonrpc"'

        progress = (
            b'{"jsonrpc":"2.0","method":"notifications/progress",'
            b'"params":{"progressToken":"' + own.encode() + b'","progress":1}}\n'
        )
        answer = b'{"jsonrpc":"2.0","id":"' + own.encode() + b'","result":{"ok":true}}\n'
        read(b'"result":{}}\n' + progress + b'{"jsonrpc":"2.0","id":1,"result":{}}\n' + answer[:9])
        read(answer[9:] + b'{"jsonrpc":"2.0","id":2,')  # the answer cut in two
        got = await call
        assert got.answer is not None and got.answer.payload["result"] == {"ok": True}
        assert [m.payload["params"]["progress"] for _, m in got.progress] == [1]
        # nothing is awaited any more: the unfinished line goes on at once
        assert b"".join(to_host) == (
            b'{"jsonrpc":"2.0","id":0,"result":{}}\n'
            b'{"jsonrpc":"2.0","id":1,"result":{}}\n'
            b'{"jsonrpc":"2.0","id":2,'
        )

    asyncio.run(scenario())


def test_an_answer_after_the_call_gave_up_is_dropped_and_a_closed_server_fails_calls() -> None:
    async def scenario() -> None:
        side, to_server, to_host, write, read = wired()
        own = side.new_id()
        with pytest.raises(SideCallError, match="did not answer within"):
            await side.call(request(own), 0.001)
        late = b'{"jsonrpc":"2.0","id":"' + own.encode() + b'","result":{}}\n'
        read(late + b'{"jsonrpc":"2.0","id":7,"result":{}}\n')
        assert to_host == [b'{"jsonrpc":"2.0","id":7,"result":{}}\n']
        waiting = asyncio.create_task(side.call(request(side.new_id()), 30))
        await asyncio.sleep(0)
        read(b'{"half')
        side.server_closed()
        with pytest.raises(SideCallError, match="closed its stdout"):
            await waiting
        assert to_host[-1] == b'{"half'  # a held line still reaches the host
        with pytest.raises(SideCallError, match="closed its stdout"):
            await side.call(request(side.new_id()), 30)

    asyncio.run(scenario())


def seen(way: Direction, kind: MessageKind, payload: dict[str, Any]) -> MessageSeen:
    message = RpcMessage(kind, payload, method=payload.get("method"), id=payload.get("id"))
    return MessageSeen(1, 0.0, way, StreamKind.STDIO, None, message)


def test_a_handshake_era_call_waits_for_the_client_s_initialize() -> None:
    c2s, s2c = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT
    call = seen(c2s, MessageKind.REQUEST, {"id": 2, "method": "tools/call", "params": {}})
    events: list[TapEvent] = [seen(c2s, MessageKind.REQUEST, {"id": 1, "method": "initialize"})]
    assert not initialized(events)
    with pytest.raises(ReplayError, match="has not initialized the server"):
        asyncio.run(resend_over_stdio([*events, call], 2, {}, SideCalls()))
    events.append(seen(s2c, MessageKind.RESPONSE, {"id": 1, "result": {}}))
    assert initialized(events)
    with pytest.raises(ReplayError, match="the server is not running"):
        asyncio.run(resend_over_stdio([*events, call], 2, {}, SideCalls()))
    assert own_token({"_meta": {"progressToken": 5}, "a": 1}, "t") == {
        "_meta": {"progressToken": "t"},
        "a": 1,
    }
    assert own_token({"a": 1}, "t") == {"a": 1}  # no token asked for, none added

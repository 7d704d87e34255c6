"""Send one call of a live stdio session again, to the server the host is talking to.

The server is past its handshake, so the call goes as it is, with no `initialize` of its
own (a second one would reset the host's session): with an id of mcp-tap's own and, when
it asked for progress, a token of mcp-tap's own, through the relay's `SideCalls`, which
keep its lines and their answers away from the host. A request of the handshake era waits
for its client to have initialized the server; one of 2026-07-28 names its revision in its
own `_meta` and needs nothing before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp_tap.analysis.calls import Call, CallNumbers
from mcp_tap.protocol.events import (
    Direction,
    MessageKind,
    MessageSeen,
    RpcMessage,
    StreamKind,
    TapEvent,
)
from mcp_tap.replay.replayer import ReplayError
from mcp_tap.replay.resend import client_request
from mcp_tap.stdio.side_calls import SideCallError, SideCalls

DEFAULT_TIMEOUT = 30.0  # seconds for the server's answer


async def resend_over_stdio(
    events: Sequence[TapEvent],
    number: int,
    params: Any,
    calls: SideCalls,
    timeout: float = DEFAULT_TIMEOUT,
) -> Call:
    """Call `number` sent again with `params` to the live server: what came back."""
    request = client_request(events, number)
    if request.stream is not StreamKind.STDIO:
        raise ReplayError(f"call {number} did not go over stdio")
    if request.message.protocol_version is None and not initialized(events):
        raise ReplayError(
            "the client has not initialized the server yet: send the call again once it has"
        )
    own = calls.new_id()
    payload: dict[str, Any] = {"jsonrpc": "2.0", "id": own, "method": request.message.method}
    if params is not None:
        payload["params"] = own_token(params, own)
    try:
        answer = await calls.call(payload, timeout)
    except SideCallError as error:
        raise ReplayError(str(error)) from None
    sent = RpcMessage(MessageKind.REQUEST, payload, method=request.message.method, id=own)
    call = Call(request.exchange_id, None, sent, answer.sent_at, number=number)
    for at, message in answer.progress:
        call.progress.append(message.payload.get("params", {}))
        call.progress_times.append(at)
    call.response, call.answered_at = answer.answer, answer.answered_at
    return call


def own_token(params: Any, token: str) -> Any:
    """`params` with mcp-tap's progress token in place of the host's, if it asked for one."""
    if not isinstance(params, dict):
        return params
    meta = params.get("_meta")
    if not isinstance(meta, dict) or "progressToken" not in meta:
        return params
    return {**params, "_meta": {**meta, "progressToken": token}}


def initialized(events: Sequence[TapEvent]) -> bool:
    """Whether the client's `initialize` got a result (not an error) from the server."""
    numbers = CallNumbers()
    asked: set[int] = set()
    for event in events:
        number = numbers.see(event)
        if number is None or not isinstance(event, MessageSeen):
            continue
        message = event.message
        if message.kind is MessageKind.REQUEST and message.method == "initialize":
            if event.direction is Direction.CLIENT_TO_SERVER:
                asked.add(number)
        elif message.kind is MessageKind.RESPONSE and number in asked:
            return True
    return False

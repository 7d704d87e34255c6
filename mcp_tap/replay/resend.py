"""Send one recorded call again, with new params, to a live HTTP target.

The call's session is opened again the way it was (its `initialize` and `initialized`
exchanges), then the call's own exchange goes with the edited request; replay's machinery
(`build_plan`, `Replayer`) does the sending, maps the session and finds the answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from mcp_tap.analysis.calls import Call, CallNumbers
from mcp_tap.http.limits import DEFAULT_IDLE_TIMEOUT
from mcp_tap.http.upstream import UpstreamPool
from mcp_tap.protocol.events import (
    Direction,
    ExchangeOpened,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    StreamKind,
    TapEvent,
)
from mcp_tap.replay.plan import PlanReader, build_plan
from mcp_tap.replay.replayer import Replayer, ReplayError, refill_secrets
from mcp_tap.replay.run import target_origin
from mcp_tap.tap.bus import TapBus

HANDSHAKE = ("initialize", "notifications/initialized")


def client_request(events: Sequence[TapEvent], number: int) -> MessageSeen:
    """The request of call `number`, which the client must have sent."""
    numbers = CallNumbers()
    for event in events:
        if numbers.see(event) == number and isinstance(event, MessageSeen):
            if event.message.kind is MessageKind.REQUEST:
                if event.direction is Direction.CLIENT_TO_SERVER:
                    return event
                break
    raise ReplayError(f"call {number} is not a request the client sent")


def edited_events(events: Sequence[TapEvent], number: int, params: Any) -> list[TapEvent]:
    """The events of call `number`'s handshake and exchange, its request given `params`."""
    request = client_request(events, number)
    if request.stream is StreamKind.STDIO:
        raise ReplayError(
            f"call {number} went over stdio: it goes again only to the server of a running "
            "`mcp-tap stdio --web`"
        )
    session = request.session_id
    keep = {request.exchange_id}
    if session is not None:
        in_session = {
            e.exchange_id
            for e in events
            if isinstance(e, ExchangeOpened | ResponseStarted) and e.session_id == session
        }
        keep |= {
            e.exchange_id
            for e in events
            if isinstance(e, MessageSeen)
            and e.exchange_id in in_session
            and e.direction is Direction.CLIENT_TO_SERVER
            and e.message.method in HANDSHAKE
        }
    payload = dict(request.message.payload)
    if params is None:
        payload.pop("params", None)
    else:
        payload["params"] = params
    edited = dataclasses.replace(
        request, message=dataclasses.replace(request.message, payload=payload)
    )
    chosen: list[TapEvent] = []
    for event in events:
        if getattr(event, "exchange_id", None) not in keep:
            continue
        if isinstance(event, MessageSeen) and event.exchange_id == request.exchange_id:
            if event.direction is Direction.CLIENT_TO_SERVER and event is not request:
                continue  # the rest of a batch stays behind: one call goes
            if event is request:
                event = edited
        chosen.append(event)
    return chosen


async def resend_call(
    events: Sequence[TapEvent],
    number: int,
    params: Any,
    target: str,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Call:
    """Call `number` sent again to `target` with `params`: the answer that came back."""
    edited = edited_events(events, number, params)
    plan = build_plan(edited)
    mine = [c for c in plan.calls if c.method not in HANDSHAKE]
    if not mine:
        raise ReplayError(f"call {number} is not in the recording")
    secrets = refill_secrets([x.headers for x in plan.exchanges], headers or {})
    async with target_origin(target) as origin:
        upstream = UpstreamPool(origin, idle_timeout=DEFAULT_IDLE_TIMEOUT)
        try:
            reader = PlanReader(edited)  # the same steps, read again as they are sent
            replayer = Replayer(reader, upstream, TapBus(), None, timeout, secrets)
            await replayer.run()
        finally:
            await upstream.aclose()
    received = replayer.replayed_call(mine[-1])
    if received is None or received.response is None:
        raise ReplayError(f"the target did not answer call {number} within {timeout:g} s")
    return received

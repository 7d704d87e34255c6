"""The mock's side of `--fault`: the rules decide on each request a client sends and on each
message of the recorded answer it gets; `server.py` (HTTP) and `stdio.py` perform them.

A request a rule answers (`error`, `status`) is never looked up in the recordings, its answer
is not tapped as the mock's (the `fault-injected` event stands for it), and `replay` leaves
it out, as it does behind the proxy. The messages of an answer are decided one by one, with
the progress notifications of the call counted, so `drop-stream after-progress=2` ends the
stream after the second one. The mock keeps no event store: a client cannot resume a stream
it dropped (point the proxy at a server that keeps one to test resumption).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp_tap.faults import Action, ActionKind, FaultPlan, MessageContext
from mcp_tap.faults.plan import is_progress, mangle
from mcp_tap.http.faults import Waiting, label, publish
from mcp_tap.http.front import ClientConnection
from mcp_tap.protocol.events import Direction, Headers, RpcMessage
from mcp_tap.protocol.jsonrpc import classify_value, error_body
from mcp_tap.serve.wire import dumps, json_headers
from mcp_tap.tap.bus import TapBus
from mcp_tap.tap.exchange import ExchangeTap
from mcp_tap.tap.stdio import StdioTap

# What ends an answer early: the rest of it is never sent.
STOPPING = frozenset(
    {ActionKind.DROP_STREAM, ActionKind.RESET, ActionKind.HANG, ActionKind.CLOSE_STDOUT}
)


def request_action(
    plan: FaultPlan, bus: TapBus, message: RpcMessage, session: str | None, exchange_id: int
) -> Action | None:
    """The rule that hits a client's request, published; None to answer it as recorded."""
    action = plan.decide(message, MessageContext(Direction.CLIENT_TO_SERVER, session, message))
    if action is None or action.kind in (ActionKind.TRUNCATE, ActionKind.CORRUPT):
        return None  # a request is read as the client sent it: only answers are mangled
    publish(bus, action, exchange_id, session, message, f"{label(message)} to the mock")
    return action


def fault_request(
    plan: FaultPlan,
    bus: TapBus,
    client: ClientConnection,
    tap: ExchangeTap,
    message: RpcMessage,
    session: str | None,
    answer: Callable[[], None],
) -> bool:
    """Perform a rule that hits a request over HTTP; True when it was handled here (False:
    `answer` it as recorded). A delayed request is answered by `answer` later."""
    action = request_action(plan, bus, message, session, tap.exchange_id)
    if action is None:
        return False
    rule, kind = action.rule, action.kind
    if kind is ActionKind.DELAY:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(action.seconds, answer)
        client.listener = Held(tap, timer)
    elif kind in (ActionKind.ERROR, ActionKind.STATUS):
        status = rule.status if kind is ActionKind.STATUS else 200
        payload = error_body(message.id, rule.code, rule.message)
        extra: Headers = (("mcp-session-id", session),) if session is not None else ()
        if kind is ActionKind.STATUS and rule.retry_after is not None:
            extra += (("retry-after", rule.retry_after),)
        client.respond(status, json_headers(payload, extra), payload)  # not the mock's
        tap.closed("fault-injected")
    elif kind is ActionKind.RESET:
        client.abort()
        tap.closed("fault-injected")
    else:  # hang, swallow: the client waits for an answer that never comes
        client.listener = Waiting(tap)
    return True


@dataclass
class Shaped:
    """What to send of one message of an answer, and whether the answer stops there."""

    chunks: list[bytes] = field(default_factory=list)
    stop: ActionKind | None = None


class AnswerFaults:
    """The rules applied to the messages of one recorded answer, in order."""

    def __init__(
        self,
        plan: FaultPlan,
        bus: TapBus,
        call: RpcMessage,
        session: str | None,
        exchange_id: int,
    ) -> None:
        self.plan, self.bus, self.call = plan, bus, call
        self.session, self.exchange_id = session, exchange_id
        self._progress = 0

    async def shape(self, message: dict[str, Any], frame: Callable[[bytes], bytes]) -> Shaped:
        """The framed bytes to send for `message` (`frame` wraps its JSON as the carrier does:
        an SSE event, a line, a body), after a delay a rule asks for."""
        text = dumps(message)
        rpc = classify_value(message)
        progress = self._progress
        context = MessageContext(Direction.SERVER_TO_CLIENT, self.session, self.call, progress)
        action = self.plan.decide(rpc, context)
        if is_progress(rpc):
            self._progress += 1
        if action is None:
            return Shaped([frame(text)])
        what = f"{label(rpc) if rpc.method else label(self.call)} from the mock"
        publish(
            self.bus, action, self.exchange_id, self.session, self.call, what,
            Direction.SERVER_TO_CLIENT,
        )  # fmt: skip
        kind = action.kind
        if kind is ActionKind.DELAY:
            await asyncio.sleep(action.seconds)
            return Shaped([frame(text)])
        if kind in STOPPING:
            return Shaped([], kind)
        if kind is ActionKind.SWALLOW:
            return Shaped([])
        if kind is ActionKind.DUPLICATE:
            return Shaped([frame(text), frame(text)])
        if kind in (ActionKind.TRUNCATE, ActionKind.CORRUPT):
            return Shaped([frame(mangle(kind, text))])
        return Shaped([frame(text)])  # error and status answer requests only


class Held:
    """A request held back by `delay` (front.ExchangeListener): a client that leaves first
    ends it, and its answer is never started."""

    def __init__(self, tap: ExchangeTap, timer: asyncio.TimerHandle) -> None:
        self.tap, self.timer = tap, timer

    def client_gone(self) -> None:
        self.timer.cancel()
        self.tap.closed("client-disconnected")

    def client_paused(self) -> None:
        pass

    def client_resumed(self) -> None:
        pass


def publish_line_fault(
    tap: StdioTap, action: Action, message: RpcMessage, direction: Direction
) -> None:
    """The `fault-injected` event of a rule that hit a line of the stdio mock."""
    what = f"{label(message)} to the mock" if direction is Direction.CLIENT_TO_SERVER else ""
    publish(tap.bus, action, tap.exchange_id, None, message, what or label(message), direction)

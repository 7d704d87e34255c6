"""The HTTP carrier's side of `--fault`: perform what `faults.FaultPlan` decides.

A request a rule answers (an error, a status, a hang, a reset) is never sent upstream: the
server does not run it, so nothing is sent twice and `replay` leaves it out. What the server
sends on an SSE stream is cut into events, each decided before it is forwarded, so a stream
can end after the nth progress notification, without the response, and the client must
resume it with `Last-Event-ID`. Only a relay with rules gets here: with none, the proxy
forwards its chunks as they come and never looks at an event boundary.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from mcp_tap.faults import Action, ActionKind, FaultPlan, MessageContext
from mcp_tap.faults.plan import is_progress, mangle
from mcp_tap.faults.rules import DEFAULT_ERROR_MESSAGE, Rule
from mcp_tap.http.front import ClientConnection
from mcp_tap.http.request_reader import Request
from mcp_tap.protocol.events import Direction, FaultInjected, Headers, MessageKind, RpcMessage
from mcp_tap.protocol.jsonrpc import classify_text, error_body
from mcp_tap.protocol.sse import SSEDecoder, SSEEvent
from mcp_tap.tap.bus import TapBus
from mcp_tap.tap.exchange import ExchangeTap

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
STOPPING = frozenset({ActionKind.DROP_STREAM, ActionKind.RESET, ActionKind.HANG})
Piece = tuple[bytes, Rule | None]  # bytes to forward, and the `slow` rule that paces them


def publish(
    bus: TapBus,
    action: Action,
    exchange_id: int | None,
    session_id: str | None,
    message: RpcMessage | None,
    what: str,
    direction: Direction = Direction.CLIENT_TO_SERVER,
) -> None:
    """The `fault-injected` event of one action."""
    request_id = message.id if message is not None else None
    detail = f"{what}: {action.describe()}"
    bus.publish(
        FaultInjected(
            bus.now(), exchange_id, action.rule.text, action.kind.value, detail, session_id,
            request_id, direction,
        )
    )  # fmt: skip


def call_of(body: bytes) -> RpcMessage | None:
    """The first request (or else message) of a client's body: the call its answer is for."""
    if not body.strip():
        return None
    messages = classify_text(body)
    for message in messages:
        if message.kind is MessageKind.REQUEST:
            return message
    return messages[0]


def label(message: RpcMessage | None) -> str:
    """`tools/call echo` for a person."""
    if message is None:
        return "stream"
    payload = message.payload if isinstance(message.payload, dict) else {}
    params = payload.get("params")
    name = params.get("name") or params.get("uri") if isinstance(params, dict) else None
    return " ".join(str(part) for part in (message.method or message.kind.value, name) if part)


def fault_request(
    plan: FaultPlan,
    bus: TapBus,
    request: Request,
    client: ClientConnection,
    new_tap: Callable[[], ExchangeTap],
    forward: Callable[[], object],
) -> bool:
    """Perform a rule that hits this request; True when the request was handled here."""
    call = call_of(request.body)
    if call is None or call.kind not in (MessageKind.REQUEST, MessageKind.NOTIFICATION):
        return False
    session = next((v for k, v in request.headers if k == "mcp-session-id"), None)
    action = plan.decide(call, MessageContext(Direction.CLIENT_TO_SERVER, session, call))
    if action is None:
        return False
    if action.kind is ActionKind.DELAY:
        publish(bus, action, None, session, call, label(call))
        asyncio.get_running_loop().call_later(action.seconds, forward)
        return True
    if action.kind in (ActionKind.TRUNCATE, ActionKind.CORRUPT, ActionKind.SLOW):
        return False  # a request is forwarded as the client sent it: only answers are shaped
    tap = new_tap()
    tap.opened(request.body)
    publish(bus, action, tap.exchange_id, session, call, label(call))
    if action.kind in (ActionKind.ERROR, ActionKind.STATUS):
        rule = action.rule
        status = rule.status if action.kind is ActionKind.STATUS else 200
        text = rule.message
        if action.kind is ActionKind.STATUS and text == DEFAULT_ERROR_MESSAGE:
            text = f"{text} (HTTP {status})"
        payload = error_body(call.id, rule.code, text)
        headers: Headers = (
            ("content-type", "application/json"),
            ("content-length", str(len(payload))),
        )
        if action.kind is ActionKind.STATUS and rule.retry_after is not None:
            headers += (("retry-after", rule.retry_after),)
        client.respond(status, headers, payload)
        tap.closed("fault-injected")
    elif action.kind is ActionKind.RESET:
        client.abort()
        tap.closed("fault-injected")
    else:  # HANG, SWALLOW: the client waits for an answer that never comes
        client.listener = Waiting(tap)
    return True


class Waiting:
    """A client left waiting by `hang`: its exchange closes when it gives up."""

    def __init__(self, tap: ExchangeTap) -> None:
        self.tap = tap

    def client_gone(self) -> None:
        self.tap.closed("client-disconnected")

    def client_paused(self) -> None:
        pass

    def client_resumed(self) -> None:
        pass


class StreamFaults:
    """One SSE response's events, each decided before it is forwarded."""

    def __init__(
        self, plan: FaultPlan, bus: TapBus, tap: ExchangeTap, call: RpcMessage | None
    ) -> None:
        self.plan = plan
        self.bus = bus
        self.tap = tap
        self.call = call if call is not None and call.kind is MessageKind.REQUEST else None
        self.stopped: ActionKind | None = None
        self._buffer = b""
        self._progress = 0
        self._held = b""  # a progress notification `reorder` holds until the next event

    def feed(self, data: bytes) -> list[Piece]:
        """What to forward of `data` now, and how; `stopped` says when the stream must end."""
        if self.stopped is not None:
            return []
        self._buffer += data
        out: list[Piece] = []
        while self.stopped is None:
            end = _EVENT_END.search(self._buffer)
            if end is None:
                break
            raw, self._buffer = self._buffer[: end.end()], self._buffer[end.end() :]
            held, self._held = self._held, b""
            data, slow = self._event(raw)  # may hold this one in turn
            if held and self.stopped is None:
                data += held  # the held notification, now after the event that followed it
            out.append((data, slow))
        return out

    def rest(self) -> bytes:
        """An unfinished event at the end of the stream, as it came, after a held one."""
        rest, self._buffer = self._held + self._buffer, b""
        self._held = b""
        return rest if self.stopped is None else b""

    def _event(self, raw: bytes) -> Piece:
        items = SSEDecoder().feed(raw)
        event = next((item for item in items if isinstance(item, SSEEvent)), None)
        if event is None:
            return raw, None
        for message in classify_text(event.data):
            context = MessageContext(
                Direction.SERVER_TO_CLIENT, self.tap.session_id, self.call, self._progress
            )
            action = self.plan.decide(message, context)
            if is_progress(message):
                self._progress += 1
            if action is not None:
                what = f"{label(message) if message.method else label(self.call)} on SSE"
                publish(
                    self.bus, action, self.tap.exchange_id, self.tap.session_id, self.call, what,
                    Direction.SERVER_TO_CLIENT,
                )  # fmt: skip
                if action.kind is ActionKind.SLOW:
                    return raw, action.rule
                if action.kind is ActionKind.REORDER:
                    self._held = raw
                    return b"", None
                return self._act(action, raw, event), None
        return raw, None

    def _act(self, action: Action, raw: bytes, event: SSEEvent) -> bytes:
        if action.kind in STOPPING:
            self.stopped = action.kind
            return b""
        if action.kind is ActionKind.SWALLOW:
            return b""
        if action.kind is ActionKind.DUPLICATE:
            return raw + raw
        if action.kind in (ActionKind.TRUNCATE, ActionKind.CORRUPT):
            data = mangle(action.kind, event.data.encode())
            lines = [b"id: " + event.id.encode()] if event.id is not None else []
            lines += [b"data: " + line for line in data.split(b"\n")]
            return b"\n".join(lines) + b"\n\n"
        return raw  # a delay of what the server sends is not performed on a stream

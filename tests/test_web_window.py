"""The web store's cap (`--web-max-events`): past it the oldest calls go whole, a session's
`initialize` stays for resend, the page is told, and resend still finds the call it names."""

from __future__ import annotations

from typing import Any

from mcp_tap.analysis.calls import CallNumbers
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    RpcMessage,
    StreamKind,
    TapEvent,
)
from mcp_tap.web.store import CallStore, Filter


def message(x: int, way: Direction, kind: MessageKind, payload: dict[str, Any]) -> MessageSeen:
    rpc = RpcMessage(kind, payload, method=payload.get("method"), id=payload.get("id"))
    return MessageSeen(x, float(x), way, StreamKind.JSON_RESPONSE, "s1", rpc)


def call_events(x: int, method: str, answered: bool = True) -> list[TapEvent]:
    """One POST of one call over HTTP: five events."""
    request = {"jsonrpc": "2.0", "id": x, "method": method, "params": {"n": x}}
    out: list[TapEvent] = [
        ExchangeOpened(x, float(x), "POST", "/mcp", (), "s1"),
        message(x, Direction.CLIENT_TO_SERVER, MessageKind.REQUEST, request),
        ResponseStarted(x, float(x), 200, (), StreamKind.JSON_RESPONSE, "s1"),
    ]
    if answered:
        answer = {"jsonrpc": "2.0", "id": x, "result": {"n": x}}
        out.append(message(x, Direction.SERVER_TO_CLIENT, MessageKind.RESPONSE, answer))
    return [*out, ExchangeClosed(x, float(x), "complete")]


def test_past_the_cap_the_oldest_calls_go_whole_and_the_page_is_told() -> None:
    store = CallStore(max_events=50)
    updates: list[dict[str, Any]] = []
    store.listeners.append(updates.append)
    for event in call_events(1, "initialize"):
        store.handle(event)
    pending = call_events(2, "tools/call", answered=False)
    for event in pending[:-1]:  # call 2 waits for its answer
        store.handle(event)
    for x in range(3, 41):
        for event in call_events(x, "tools/call"):
            store.handle(event)
    # the answer of call 2, dropped meanwhile, comes late: it is not kept again
    late = {"jsonrpc": "2.0", "id": 2, "result": {"n": 2}}
    store.handle(message(2, Direction.SERVER_TO_CLIENT, MessageKind.RESPONSE, late))

    kept = [entry.number for entry in store.calls]
    assert len(store.window.items) <= 50
    assert kept[0] == 1  # the session's initialize, pinned
    assert kept[1:] == list(range(kept[1], 41))  # the newest calls, none cut in part
    assert store.dropped == kept[1] - 2 > 0 and store.call(2) is None
    assert all(store.call(n) is not None for n in kept)
    assert [event for event, n in store.window.items if n == 2] == []
    assert store.summary()["dropped"] == store.dropped
    page = store.page(Filter(), 0, 100)
    assert page["dropped"] == store.dropped and page["all"] == len(kept)
    assert [u["dropped"] for u in updates if u["t"] == "dropped"][-1] == store.dropped
    detail = store.detail(40)
    assert detail is not None and [m["kind"] for m in detail["messages"]] == [
        "request",
        "response",
    ]
    assert [x["id"] for x in detail["exchanges"]] == [40]

    # resend numbers the kept events anew: the number it gets is that of the same request
    events, local = store.resend_input(40)
    numbers = CallNumbers()
    found = [
        e
        for e in events
        if numbers.see(e) == local
        and isinstance(e, MessageSeen)
        and e.message.kind is MessageKind.REQUEST
    ]
    assert [e.message.id for e in found] == [40]
    assert any(isinstance(e, MessageSeen) and e.message.method == "initialize" for e in events)

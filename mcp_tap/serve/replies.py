"""A request's recorded answer, and what a transport needs of the mock to give it.

`MockServer.reply_to` decides what a client's request gets (`Reply`: notifications at their
offsets, then the response) or that it matches nothing (`Miss`). The transports that answer
through it (the 2024-11-05 stream in `legacy_sse.py`, stdio in `stdio.py`) know the mock only
as a `Replier`, so they need not import `server.py`, which itself opens the legacy streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from mcp_tap.protocol.events import Headers, RpcMessage
from mcp_tap.serve.asks import AskBroker
from mcp_tap.serve.interactions import Emission, Interaction
from mcp_tap.serve.matching import Miss
from mcp_tap.serve.spy import Spy
from mcp_tap.serve.wire import Item


@dataclass
class Reply:
    """A request's recorded answer: notifications to send, then the response, at offsets."""

    items: list[Item]
    response: Item
    wants_sse: bool  # the recorded server streamed it (or has notifications to send)
    session: str | None  # a session an `initialize` just opened
    asks: dict[int, Emission] = field(default_factory=dict)  # items that are requests to the client
    interaction: Interaction | None = None  # the recorded call it comes from


class Replier(Protocol):
    """The mock as a transport sees it: answers, misses, and the pace to send them at."""

    @property
    def speed(self) -> float | None:
        """How much faster than recorded to send; None: every message at once (--fast)."""

    @property
    def asks(self) -> AskBroker:
        """The mock's requests to clients, waiting for their answers."""

    def reply_to(
        self, message: RpcMessage, scope: str = "", exchange_id: int | None = None
    ) -> Reply | Miss:
        """What to answer a client's request in client session `scope` (whose place in
        recorded sequences it moves): its notifications and response, or a Miss."""

    def miss_answer(
        self, miss: Miss, request_id: Any, exchange_id: int, session: str | None
    ) -> bytes:
        """The JSON-RPC error for a miss (the mock also reports it as a finding)."""

    def missed_late(self, miss: Miss) -> None:
        """Count a miss found while a call was being answered (a --strict ask)."""

    @property
    def spy(self) -> Spy | None:
        """Where misses go in spy mode (--upstream, --command); None: they are misses."""

    def end_session(self, scope: str) -> None:
        """Client session `scope` is over: its place in the recorded sequences is forgotten."""

    def take_back(self, miss: Miss) -> None:
        """A miss spy mode will answer from the real server: not a miss after all."""

    async def forwarded_reply(
        self,
        spy: Spy,
        message: RpcMessage,
        version: str | None,
        headers: Headers = (),
        scope: str = "",
    ) -> Reply | Miss:
        """What the real server answers a miss (spy mode); a Miss when it fails."""

"""Spy mode's stdio upstream: a miss sent to a real stdio server mcp-tap starts (`--command`).

The server is started at the first miss, not before: a recording that answers everything
never needs it. It gets one handshake of its own (the recorded `initialize`, whose protocol
version is the one the mock's answers and so its clients speak; a 2026-07-28 request needs
none), then the misses, each under the spy's own id, whichever client or transport they came
from. Its lines are sorted back to the call they belong to: a response by its id, a progress
notification by its token, any other notification to the one call in flight (with several
in flight it is kept by none: a stdio server does not say which call it is about).

A request the server sends (sampling, elicitation, roots) would need the client, which is
the mock's: it is answered with an error, and a ping with an empty result.
It stops with the mock as a host stops a server (stdin closed, SIGTERM, SIGKILL), and
dies with mcp-tap in any case (`stdio.child`). A server that exits fails the calls in flight;
the next miss starts it again.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp_tap.protocol.events import Headers, StreamKind
from mcp_tap.protocol.jsonrpc import error_body
from mcp_tap.protocol.secrets import redact_command
from mcp_tap.serve.spy_wire import INITIALIZE_ID, Forwarded, SpyError, handshake, payloads
from mcp_tap.stdio.command import program_name
from mcp_tap.stdio.relay import DEFAULT_GRACE, DEFAULT_TERM_GRACE
from mcp_tap.stdio.server_process import ServerNotStarted, ServerProcess

METHOD_NOT_FOUND = -32601
STATELESS = "2026-07-28"


@dataclass
class _Call:
    """A forwarded request waiting for its response."""

    token: Any  # its progress token, if it asked for progress
    done: asyncio.Future[dict[str, Any]]
    notes: list[dict[str, Any]] = field(default_factory=list)


class StdioUpstream:
    """A real MCP server run as a command, over its stdin and stdout (a `spy.Upstream`)."""

    stdio = True

    def __init__(
        self,
        command: Sequence[str],
        initialize: dict[str, Any] | None,
        grace: float = DEFAULT_GRACE,
        term_grace: float = DEFAULT_TERM_GRACE,
    ) -> None:
        if not command:
            raise ValueError("--command is empty: give the server's command line")
        self.command = list(command)
        self.label = shlex.join(redact_command(self.command))  # printed, recorded: no secret
        self.target = program_name(self.command)
        self._initialize = initialize
        self.grace, self.term_grace = grace, term_grace  # the stop's: to SIGTERM, to SIGKILL
        self._process: ServerProcess | None = None
        self._shaken = False
        self._starting = asyncio.Lock()
        self._calls: dict[str, _Call] = {}

    async def send(
        self, message: dict[str, Any], version: str | None, headers: Headers = ()
    ) -> Forwarded:
        """`message` (with the spy's own id) to the server, and what it sent for it."""
        await self._ready(version)
        token = ((message.get("params") or {}).get("_meta") or {}).get("progressToken")
        return await self._call(message, token)

    async def aclose(self) -> None:
        """Stop the server, if it was started."""
        process, self._process = self._process, None
        if process is not None:
            await process.stop(self.grace, self.term_grace)

    # -- internals --

    async def _ready(self, version: str | None) -> None:
        async with self._starting:
            if self._process is None or not self._process.running:
                self._process, self._shaken = (
                    ServerProcess(self.command, self._line, self._end),
                    False,
                )
                try:
                    await self._process.start()
                except ServerNotStarted as error:
                    self._process = None
                    raise SpyError(str(error)) from None
            if self._shaken or version == STATELESS:
                return
            initialize, done = handshake(self._initialize, version)
            answer = await self._call(initialize, None)
            refused = answer.messages[-1].get("error")
            if refused is not None:
                why = refused.get("message") if isinstance(refused, dict) else refused
                raise SpyError(f"{self.target} refused the initialize: {why}")
            self._write(done)
            self._shaken = True

    async def _call(self, message: dict[str, Any], token: Any) -> Forwarded:
        own = str(message["id"])
        call = _Call(token, asyncio.get_running_loop().create_future())
        self._calls[own] = call
        try:
            self._write(message)
            response = await call.done
        finally:
            self._calls.pop(own, None)
        return Forwarded([*call.notes, response], StreamKind.STDIO)

    def _write(self, message: dict[str, Any]) -> None:
        assert self._process is not None
        self._process.write(json.dumps(message, ensure_ascii=False).encode("utf-8"))

    def _line(self, line: bytes) -> None:
        for message in payloads(line):
            self._sort(message)

    def _sort(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:  # a response: to the call of its id
            call = self._calls.get(str(message.get("id")))
            if call is not None and not call.done.done():
                call.done.set_result(message)
            return
        if "id" in message:  # the server asks something of the client
            if method == "ping":
                self._write({"jsonrpc": "2.0", "id": message["id"], "result": {}})
            else:
                text = f"mcp-tap serve: the client of a forwarded call cannot answer {method}"
                assert self._process is not None
                self._process.write(error_body(message["id"], METHOD_NOT_FOUND, text))
            return
        token = (message.get("params") or {}).get("progressToken")
        waiting = [c for key, c in self._calls.items() if key != INITIALIZE_ID]
        owners = [c for c in waiting if token is not None and c.token == token]
        if not owners and len(waiting) == 1 and method != "notifications/progress":
            owners = waiting
        if owners:
            owners[0].notes.append(message)

    def _end(self, why: str) -> None:
        for call in self._calls.values():
            if not call.done.done():
                call.done.set_exception(SpyError(f"the upstream {why}"))

"""Requests the mock sends a client, re-enacting the recorded server's, and their answers.

A recorded call may hold requests the server sent the client before it answered (sampling,
elicitation, roots, ping). The mock sends each again with an id of its own (a client's answer
must name an id the mock gave, and ids of several sessions must not collide), waits for the
client's answer up to a timeout (`--ask-timeout`), and compares it with the recorded one,
field by field, as a request is compared with a recorded request. A difference, or no answer
in time, is a finding; under `--strict` it is also a miss, and the call gets the miss error
in place of its recorded response.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from dataclasses import dataclass
from typing import Any

from mcp_tap.analysis.request_key import MatchRules
from mcp_tap.protocol.events import Finding, MessageKind, RpcMessage, Severity
from mcp_tap.serve.interactions import Emission, Interaction
from mcp_tap.serve.matching import Difference, Miss, differences
from mcp_tap.tap.bus import TapBus

DEFAULT_ASK_TIMEOUT = 30.0  # seconds a client has to answer a re-enacted request
VOLATILE_ANSWER = ("_meta",)  # keys of an answer's result never compared


@dataclass(frozen=True)
class AskContext:
    """Where a re-enacted request is sent from: the call it belongs to, for findings."""

    interaction: Interaction
    request: dict[str, Any]  # the client's request the call answers
    exchange_id: int | None
    session: str | None


def outcome_of(answer: dict[str, Any] | None) -> dict[str, Any]:
    """What of a client's answer is compared: its result (bar `_meta`) or its error."""
    if answer is None:
        return {}
    out = {k: copy.deepcopy(v) for k, v in answer.items() if k in ("result", "error")}
    result = out.get("result")
    if isinstance(result, dict):
        out["result"] = {k: v for k, v in result.items() if k not in VOLATILE_ANSWER}
    return out


class AskBroker:
    """The mock's requests to clients that wait for an answer, by the id the mock gave them."""

    def __init__(
        self,
        bus: TapBus,
        timeout: float = DEFAULT_ASK_TIMEOUT,
        strict: bool = False,
        rules: MatchRules | None = None,
    ) -> None:
        self.bus = bus
        self.timeout = timeout
        self.strict = strict
        self.rules = rules or MatchRules()
        self._ids = itertools.count(1)
        self._waiting: dict[tuple[str, Any], asyncio.Future[dict[str, Any]]] = {}

    def outgoing(self, emission: Emission) -> tuple[dict[str, Any], int]:
        """The recorded request with an id of the mock's own, and that id."""
        own = next(self._ids)
        message = copy.deepcopy(emission.payload)
        message["id"] = own
        self._waiting[_key(own)] = asyncio.get_running_loop().create_future()
        return message, own

    def resolve(self, message: RpcMessage) -> bool:
        """A client's response or error: True when it answers one of the mock's requests."""
        if message.kind not in (MessageKind.RESPONSE, MessageKind.ERROR):
            return False
        future = self._waiting.get(_key(message.id))
        if future is None or future.done():
            return False
        future.set_result(message.payload)
        return True

    def forget(self, own: int) -> None:
        """Stop waiting for an answer to request `own` (it was never sent)."""
        self._waiting.pop(_key(own), None)

    async def answer(self, own: int, emission: Emission, context: AskContext) -> Miss | None:
        """Wait for the answer to request `own`; report how it differs; a Miss under --strict."""
        future = self._waiting[_key(own)]
        try:
            received: dict[str, Any] | None = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            received = None
        finally:
            self._waiting.pop(_key(own), None)
        where = _where(emission, context)
        if received is None:
            text = f"the client did not answer {where} within {self.timeout:g}s (--ask-timeout)"
            return self._report(own, context, "serve-no-answer", text, [])
        found = differences(outcome_of(emission.answer), outcome_of(received))
        if not found:
            return None
        shown = "; ".join(d.describe() for d in found[:5])
        text = f"the client answered {where} differently from the recording: {shown}"
        return self._report(own, context, "serve-answer-differs", text, found)

    def unsent(self, own: int, emission: Emission, context: AskContext, why: str) -> Miss | None:
        """Request `own` could not be sent (`why`): no answer can come; a Miss under --strict."""
        self.forget(own)
        text = f"the client could not be sent {_where(emission, context)}: {why}"
        return self._report(own, context, "serve-no-answer", text, [])

    def _report(
        self, own: int, context: AskContext, rule: str, text: str, found: list[Difference]
    ) -> Miss | None:
        self.bus.publish(
            Finding(
                self.bus.now(),
                Severity.ERROR if self.strict else Severity.WARNING,
                rule,
                f"mcp-tap serve: {text}",
                exchange_id=context.exchange_id,
                session_id=context.session,
                request_id=own,
            )
        )
        if not self.strict:
            return None
        return Miss(context.request, context.interaction, found, text)


def _where(emission: Emission, context: AskContext) -> str:
    method = emission.payload.get("method", "?")
    return f"its {method} (for {context.interaction.label})"


def _key(request_id: Any) -> tuple[str, Any]:
    return (type(request_id).__name__, request_id)  # "1" and 1 are different ids

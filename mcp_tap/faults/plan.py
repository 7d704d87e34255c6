"""`FaultPlan`: which rule, if any, applies to a message, and the action a carrier performs.

Rules are tried in order; the first whose selectors all fit the message applies. A rule's
`nth` counts the messages its other selectors matched, its `times` the faults it injected,
and its `probability` draws from one generator seeded by `--seed`, so a run can be repeated.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcp_tap.faults.rules import (
    HTTP_ONLY,
    NOT_SERVED,
    STDIO_ONLY,
    ActionKind,
    Rule,
    RuleError,
    parse_rule,
)
from mcp_tap.protocol.events import Direction, MessageKind, RpcMessage

CARRIERS = ("http", "stdio", "serve", "serve-stdio")
STDIO_CARRIERS = ("stdio", "serve-stdio")


@dataclass(frozen=True)
class MessageContext:
    """Where a message is: its direction, session, and the call it belongs to."""

    direction: Direction
    session_id: str | None = None
    # the request this message answers or reports on (for a request: the request itself)
    call: RpcMessage | None = None
    progress_seen: int = 0  # progress notifications of this call that went before this one


@dataclass(frozen=True)
class Action:
    """What to do to one message, by which rule; `seconds` is the delay, jitter drawn."""

    kind: ActionKind
    rule: Rule
    seconds: float = 0.0

    def describe(self) -> str:
        """One line for the recording and the view: what was done."""
        rule = self.rule
        if self.kind is ActionKind.ERROR:
            return f"answered with JSON-RPC error {rule.code} {rule.message!r}, not forwarded"
        if self.kind is ActionKind.STATUS:
            after = f" (Retry-After: {rule.retry_after})" if rule.retry_after else ""
            return f"answered with HTTP {rule.status}{after}, not forwarded"
        if self.kind is ActionKind.DELAY:
            return f"held back {self.seconds * 1000:.0f} ms"
        if self.kind is ActionKind.SLOW:
            every = rule.slow_every * 1000
            return f"forwarded {rule.slow_bytes} bytes at a time, {every:.0f} ms apart"
        return _DONE[self.kind]


_DONE = {
    ActionKind.DROP_STREAM: "stream ended before this message, without the response",
    ActionKind.RESET: "connection reset instead of this message",
    ActionKind.HANG: "never forwarded, never answered",
    ActionKind.SWALLOW: "left out",
    ActionKind.DUPLICATE: "forwarded twice",
    ActionKind.TRUNCATE: "forwarded cut in half",
    ActionKind.CORRUPT: "forwarded with bytes that are not JSON",
    ActionKind.REORDER: "held, and forwarded after the next message",
    ActionKind.KILL: "server killed (SIGKILL) instead of this message",
    ActionKind.CLOSE_STDOUT: "server's stdout closed before this message",
}


class FaultPlan:
    """The rules of one carrier and their counts; `decide` for each message it relays."""

    def __init__(self, rules: Sequence[Rule], seed: int | None = None, carrier: str = "http"):
        """Raises RuleError for a rule the carrier (one of CARRIERS) cannot perform (a kill
        over HTTP)."""
        if carrier not in CARRIERS:
            raise ValueError(f"unknown carrier {carrier!r}")
        for rule in rules:
            if carrier not in STDIO_CARRIERS and rule.action in STDIO_ONLY:
                raise RuleError(f"fault rule {rule.text!r}: {rule.action.value} is for stdio")
            if carrier in STDIO_CARRIERS and rule.action in HTTP_ONLY:
                raise RuleError(f"fault rule {rule.text!r}: {rule.action.value} is for HTTP")
            if carrier.startswith("serve") and rule.action in NOT_SERVED:
                raise RuleError(f"fault rule {rule.text!r}: {rule.action.value} is not for serve")
            if carrier == "serve-stdio" and rule.action is ActionKind.KILL:
                # the mock has no server process to kill: `mcp-tap stdio` in front of it has
                raise RuleError(f"fault rule {rule.text!r}: kill is for `mcp-tap stdio`")
        self.rules = tuple(rules)
        self.carrier = carrier
        self._random = random.Random(seed)
        self._matched = [0] * len(self.rules)
        self._applied = [0] * len(self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def extend(self, rules: Sequence[Rule]) -> None:
        """More rules, tried after the others, which keep their counts (`inject` in tests)."""
        checked = FaultPlan(rules, carrier=self.carrier)  # RuleError for one it cannot do
        self.rules += checked.rules
        self._matched += [0] * len(checked.rules)
        self._applied += [0] * len(checked.rules)

    def decide(self, message: RpcMessage, context: MessageContext) -> Action | None:
        """The action for `message`, or None to forward it untouched."""
        for index, rule in enumerate(self.rules):
            if not _fits(rule, message, context):
                continue
            self._matched[index] += 1
            if rule.nth is not None and self._matched[index] != rule.nth:
                continue
            if rule.times is not None and self._applied[index] >= rule.times:
                continue
            if rule.probability < 1.0 and self._random.random() >= rule.probability:
                continue
            self._applied[index] += 1
            seconds = rule.delay
            if rule.jitter:
                seconds += self._random.uniform(0.0, rule.jitter)
            return Action(rule.action, rule, seconds)
        return None


def _fits(rule: Rule, message: RpcMessage, context: MessageContext) -> bool:
    if rule.direction is not None and rule.direction is not context.direction:
        return False
    if rule.action in (ActionKind.ERROR, ActionKind.STATUS):
        if message.kind is not MessageKind.REQUEST:
            return False
    if rule.action is ActionKind.REORDER and not is_progress(message):
        return False  # only progress notifications are moved
    if rule.session is not None and context.session_id != rule.session:
        return False
    if rule.after_progress is not None and context.progress_seen < rule.after_progress:
        return False
    call = context.call
    method = message.method if message.method is not None else (call.method if call else None)
    if not rule.matches_name(rule.method, method):
        return False
    if rule.tool is not None:
        if call is None or call.method != "tools/call":
            return False
        if not rule.matches_name(rule.tool, _param(call, "name")):
            return False
    if rule.resource is not None:
        if call is None or not (call.method or "").startswith("resources/"):
            return False
        if not rule.matches_name(rule.resource, _param(call, "uri")):
            return False
    return True


def _param(message: RpcMessage, name: str) -> str | None:
    payload: Any = message.payload
    params = payload.get("params") if isinstance(payload, dict) else None
    value = params.get(name) if isinstance(params, dict) else None
    return value if isinstance(value, str) else None


def is_progress(message: RpcMessage) -> bool:
    """A `notifications/progress`: what `after-progress` counts."""
    return message.kind is MessageKind.NOTIFICATION and message.method == "notifications/progress"


def progress_token_of(message: RpcMessage) -> Any:
    """The token a progress notification reports on (None when it has none)."""
    payload: Any = message.payload
    params = payload.get("params") if isinstance(payload, dict) else None
    return params.get("progressToken") if isinstance(params, dict) else None


# After these, the server never got the message the fault hit: replay leaves it out.
WITHHELD = frozenset(
    {
        ActionKind.ERROR,
        ActionKind.STATUS,
        ActionKind.RESET,
        ActionKind.HANG,
        ActionKind.SWALLOW,
        ActionKind.KILL,
    }
)


def mangle(kind: ActionKind, text: bytes) -> bytes:
    """A message's text cut in half (TRUNCATE) or with a stray byte that is not JSON."""
    if kind is ActionKind.TRUNCATE:
        return text[: len(text) // 2]
    middle = len(text) // 2
    return text[:middle] + b"\x00}{" + text[middle:]


def plan_of(
    faults: FaultPlan | Sequence[str | Rule] | None, seed: int | None, carrier: str
) -> FaultPlan | None:
    """A plan from what a Python caller gives: a plan, or rules as text or parsed; None or
    no rule: no plan (nothing is decided on the way). Raises RuleError for a bad rule."""
    if faults is None or isinstance(faults, FaultPlan):
        return faults or None
    if isinstance(faults, str):
        faults = [faults]
    rules = [parse_rule(rule) if isinstance(rule, str) else rule for rule in faults]
    return FaultPlan(rules, seed, carrier) if rules else None

"""Which recorded interaction answers a request, and, when none does, why not.

Sans-IO. A request matches a recorded one by method and params, with the fields that change
from run to run ignored: the JSON-RPC id (never compared), `params._meta` (progress tokens,
trace context, the 2026-07-28 envelope), and any path the user adds (`analysis.request_key`
says what of a request is compared; `diff` pairs two recordings' calls by it too). A recorded
value that was redacted (`<redacted:...>`) matches any value, as the recording no longer knows it.

Identical requests are answered in recorded order, and a request after others gets the answer
recorded after theirs (a sequence, as WireMock's scenarios: `increment` then `get` gets the
`get` recorded after the `increment`); `--match sequence:PATH` keeps one sequence per value of
a request field. Once their answers are used up, the last repeats (`repeat="last"`), they
start over (`"cycle"`) or the request misses (`"once"`). Each client session keeps its own
position, so every client gets the recorded sequence from its start. A 2026-07-28 retry of
a call answered `input_required` is matched with the recorded retries, on the call's own
params (`retries.py` compares its answers). A miss names the closest recorded request and
every field that differs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp_tap.analysis.request_key import REPEAT_POLICIES as REPEAT_POLICIES
from mcp_tap.analysis.request_key import MatchRules as MatchRules  # serve's API, kept here
from mcp_tap.analysis.request_key import comparable, sequence_of
from mcp_tap.analysis.request_key import parse_path as parse_path
from mcp_tap.serve.interactions import (
    REDACTED_PREFIX,
    Interaction,
    call_params,
    is_retry,
    original_call,
)

if TYPE_CHECKING:
    from mcp_tap.serve.shaping import MatchOn

MISS_CODE = -32050  # in JSON-RPC's server-error range; documented in the README
_ABSENT = object()
MAX_SHOWN = 60  # characters of a value in a miss message


@dataclass(frozen=True)
class Difference:
    """One field by which a request differs from a recorded one."""

    path: str  # `params.arguments.size_mb`
    recorded: Any  # _ABSENT when the recorded request had no such field
    received: Any

    def describe(self) -> str:
        return f"{self.path}: recorded {_show(self.recorded)}, received {_show(self.received)}"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.recorded is not _ABSENT:
            out["recorded"] = self.recorded
        if self.received is not _ABSENT:
            out["received"] = self.received
        return out


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


@dataclass
class Miss:
    """A request no recorded interaction answers."""

    request: dict[str, Any]
    closest: Interaction | None
    differences: list[Difference] = field(default_factory=list)
    reason: str = ""  # set when the differences alone do not say it

    @property
    def method(self) -> str:
        method = self.request.get("method")
        return method if isinstance(method, str) else "?"

    @property
    def message(self) -> str:
        """One line for the JSON-RPC error, the view and the summary."""
        head = f"mcp-tap serve: no recorded {self.method} matches this request"
        if self.reason:
            return f"{head}: {self.reason}"
        if self.closest is None:
            return head
        shown = "; ".join(d.describe() for d in self.differences[:5])
        more = len(self.differences) - 5
        if more > 0:
            shown += f"; and {more} more"
        return f"{head}; closest is {self.closest.label}: {shown}"

    def error_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"differences": [d.as_json() for d in self.differences]}
        if self.closest is not None:
            data["closest"] = {
                "interaction": self.closest.index,
                "recording": self.closest.source,
                "call": self.closest.number,
                "request": self.closest.request,
            }
        return data


def miss_body(miss: Miss, request_id: Any) -> dict[str, Any]:
    """The JSON-RPC error a client gets for a miss."""
    error = {"code": MISS_CODE, "message": miss.message, "data": miss.error_data()}
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def differences(recorded: Any, received: Any, path: str = "") -> list[Difference]:
    """Every leaf by which `received` differs from `recorded`; a redacted recorded value matches."""
    if isinstance(recorded, str) and recorded.startswith(REDACTED_PREFIX):
        return []
    if isinstance(recorded, dict) and isinstance(received, dict):
        found: list[Difference] = []
        for key in [*recorded, *(k for k in received if k not in recorded)]:
            sub = f"{path}.{key}" if path else str(key)
            found.extend(
                differences(recorded.get(key, _ABSENT), received.get(key, _ABSENT), sub)
                if key in recorded and key in received
                else [Difference(sub, recorded.get(key, _ABSENT), received.get(key, _ABSENT))]
            )
        return found
    if isinstance(recorded, list) and isinstance(received, list) and len(recorded) == len(received):
        found = []
        for index, (a, b) in enumerate(zip(recorded, received, strict=True)):
            found.extend(differences(a, b, f"{path}.{index}" if path else str(index)))
        return found
    if type(recorded) is not type(received) or recorded != received:
        return [Difference(path, recorded, received)]
    return []


@dataclass
class _Position:
    """Where one client session is in the recordings: what it was served, each sequence's
    last answer."""

    served: dict[int, int] = field(default_factory=dict)  # interaction index -> times
    cursors: dict[str, int] = field(default_factory=dict)  # sequence -> last served index


class Matcher:
    """Answers requests from recorded interactions, remembering which were used.

    Each client session (`scope`: an `Mcp-Session-Id`, a stdio connection; "" for requests
    that belong to none) has its own position in the recordings, so each client is answered
    the recorded sequence from its start; `uses` counts what every session was served.
    """

    def __init__(
        self,
        interactions: Sequence[Interaction],
        rules: MatchRules | None = None,
        match_on: Sequence[MatchOn] = (),
    ):
        self.rules = rules or MatchRules()
        self.match_on = tuple(match_on)  # when given: they decide, not the field comparison
        self.interactions = list(interactions)
        self._by_method: dict[str, list[Interaction]] = {}
        for interaction in self.interactions:
            if interaction.response is not None:
                self._by_method.setdefault(interaction.method, []).append(interaction)
        self._views = {id(i): self._view(i.request) for i in self.interactions}
        self.uses: dict[int, int] = {}  # interaction index -> times served, in any session
        self.misses: list[Miss] = []
        self._positions: dict[str, _Position] = {}
        self._lock = threading.Lock()  # the Python API may share one matcher across loops

    def _view(self, request: dict[str, Any]) -> Any:
        """What of a request is compared; a retry (2026-07-28) as the call it retries."""
        return comparable(original_call(request), self.rules)

    def match(self, request: dict[str, Any], scope: str = "") -> Interaction | Miss:
        """The interaction that answers `request` in client session `scope`, or the miss
        that explains why none does."""
        method = request.get("method")
        retry = is_retry(request)
        candidates = [
            c
            for c in (self._by_method.get(method, []) if isinstance(method, str) else [])
            if is_retry(c.request) == retry  # a retry continues a call: never a first request
        ]
        received = self._view(request)
        scored = [(c, differences(self._views[id(c)], received)) for c in candidates]
        if self.match_on:
            refused = self._refused_by_predicates(request, candidates)
            if isinstance(refused, Miss):
                with self._lock:
                    self.misses.append(refused)
                return refused
            matching = [c for c in candidates if id(c) not in refused]
        else:
            matching = [c for c, diffs in scored if not diffs]
        sequence = sequence_of(request, self.rules)
        with self._lock:
            position = self._positions.setdefault(scope, _Position())
            chosen = (
                (self._continued(matching, request, position) if retry else None)
                or self._next_in(matching, position.cursors.get(sequence, 0), position)
                or self._choose(matching, position)
            )
            if chosen is not None:
                self.uses[chosen.index] = self.uses.get(chosen.index, 0) + 1
                position.served[chosen.index] = position.served.get(chosen.index, 0) + 1
                position.cursors[sequence] = chosen.index
                return chosen
            miss = self._miss(request, scored, matching, retry)
            self.misses.append(miss)
            return miss

    def end(self, scope: str) -> None:
        """Forget a client session's position (its client ended it)."""
        with self._lock:
            self._positions.pop(scope, None)

    @staticmethod
    def _continued(
        matching: list[Interaction], request: dict[str, Any], position: _Position
    ) -> Interaction | None:
        """The recorded retry of the call this retry continues: the one that echoed the
        same `requestState` (the mock served the client the recorded one)."""
        state = call_params(request).get("requestState")
        if state is None:
            return None
        return next(
            (
                i
                for i in matching
                if call_params(i.request).get("requestState") == state
                and i.index not in position.served
            ),
            None,
        )

    def _refused_by_predicates(
        self, request: dict[str, Any], candidates: list[Interaction]
    ) -> set[int] | Miss:
        """The ids of the candidates some `match_on` callable refuses; a Miss naming the
        callable when one raises (the request cannot be matched, the mock goes on)."""
        refused: set[int] = set()
        for candidate in candidates:
            for predicate in self.match_on:
                try:
                    agrees = predicate(request, candidate.request)
                except Exception as error:  # the user's code: reported, not fatal
                    name = getattr(predicate, "__name__", repr(predicate))
                    reason = f"match_on {name} raised {type(error).__name__}: {error}"
                    return Miss(request, candidate, [], reason)
                if not agrees:
                    refused.add(id(candidate))
                    break
        return refused

    def add_miss(self, miss: Miss) -> None:
        """A miss found after the request matched (a --strict ask the client answered wrong)."""
        with self._lock:
            self.misses.append(miss)

    def forgive(self, miss: Miss) -> None:
        """Take back a miss that spy mode answered from the real server."""
        with self._lock:
            if miss in self.misses:
                self.misses.remove(miss)

    def learn(self, interaction: Interaction, scope: str = "") -> None:
        """Answer from now on with an interaction spy mode learnt (already served once, in
        client session `scope`)."""
        with self._lock:
            interaction.index = 1 + max((i.index for i in self.interactions), default=0)
            self.interactions.append(interaction)
            self._by_method.setdefault(interaction.method, []).append(interaction)
            self._views[id(interaction)] = self._view(interaction.request)
            self.uses[interaction.index] = 1
            self._positions.setdefault(scope, _Position()).served[interaction.index] = 1

    def mark_used(self, interaction: Interaction) -> None:
        with self._lock:
            self.uses[interaction.index] = self.uses.get(interaction.index, 0) + 1

    def unused(self) -> list[Interaction]:
        """Recorded requests no client asked for (lifecycle ones aside: each era has its own)."""
        return [
            i
            for i in self.interactions
            if i.index not in self.uses and not i.is_lifecycle and i.response is not None
        ]

    @staticmethod
    def _next_in(
        matching: list[Interaction], cursor: int, position: _Position
    ) -> Interaction | None:
        """The first answer the session has not had recorded after the sequence's last one:
        what the server said in the state the calls served so far left it in."""
        return next(
            (i for i in matching if i.index > cursor and i.index not in position.served), None
        )

    def _choose(self, matching: list[Interaction], position: _Position) -> Interaction | None:
        if not matching:
            return None
        for interaction in matching:
            if interaction.index not in position.served:
                return interaction
        if self.rules.repeat == "last":
            return matching[-1]
        if self.rules.repeat == "cycle":
            served = sum(position.served.get(i.index, 0) for i in matching)
            return matching[served % len(matching)]
        return None

    def _miss(
        self,
        request: dict[str, Any],
        scored: list[tuple[Interaction, list[Difference]]],
        matching: list[Interaction],
        retry: bool,
    ) -> Miss:
        method = request.get("method")
        if matching:
            first, count = matching[0], len(matching)
            reason = f"all {count} recorded answers to {first.label} were used (--repeat once)"
            return Miss(request, first, [], reason)
        if not scored and retry:
            reason = (
                f"the recordings hold no retry of a {method} (with inputResponses or "
                "requestState, after an input_required result)"
            )
            return Miss(request, None, [], reason)
        if not scored:
            methods = sorted({i.method for i in self.interactions if i.response is not None})
            shown = ", ".join(methods) if methods else "none"
            reason = f"the recordings have no {method} request (recorded methods: {shown})"
            return Miss(request, None, [], reason)

        def closeness(item: tuple[Interaction, list[Difference]]) -> tuple[int, int, int]:
            interaction, diffs = item
            other_name = any(d.path in ("params.name", "params.uri") for d in diffs)
            return (int(other_name), len(diffs), interaction.index)

        closest, diffs = min(scored, key=closeness)
        if self.match_on:
            names = ", ".join(getattr(p, "__name__", repr(p)) for p in self.match_on)
            shown = "; ".join(d.describe() for d in diffs[:5]) or "no field differs"
            reason = (
                f"match_on ({names}) refused every recorded one; closest is {closest.label}: "
                + shown
            )
            return Miss(request, closest, diffs, reason)
        return Miss(request, closest, diffs)

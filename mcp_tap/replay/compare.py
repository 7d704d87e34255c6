"""Compare a replayed call with its recording: the result, and the progress stream's shape.

Volatile fields (server version, `_meta`, and any `--ignore` path) are removed before results
are compared, so a replay diverges only where the server's behaviour changed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp_tap.analysis.calls import Call
from mcp_tap.protocol.events import MessageKind

DEFAULT_IGNORES = ("result._meta", "result.serverInfo.version", "error.data.timestamp")


@dataclass
class Divergence:
    """One way a replayed call differs from its recording."""

    what: str
    recorded: Any = None
    received: Any = None


@dataclass
class CallVerdict:
    """A recorded call and how its replay went."""

    call: Call
    divergences: list[Divergence] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.divergences


def parse_path(path: str) -> list[str]:
    """`$.result.content.*.text` -> ['result', 'content', '*', 'text']."""
    path = path.removeprefix("$").removeprefix(".")
    return [part for part in path.split(".") if part]


def remove_path(value: Any, parts: Sequence[str]) -> None:
    """Delete what `parts` names inside `value`, in place; `*` matches any key or index."""
    if not parts or not isinstance(value, dict | list):
        return
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [head] if head in value else []
        for key in keys:
            if rest:
                remove_path(value[key], rest)
            else:
                del value[key]
    else:
        indexes = range(len(value)) if head == "*" else [int(head)] if head.isdigit() else []
        for index in sorted(indexes, reverse=True):
            if index < len(value):
                if rest:
                    remove_path(value[index], rest)
                else:
                    del value[index]


def stable_outcome(call: Call, ignores: Sequence[Sequence[str]]) -> Any:
    """The comparable part of a call's response: result or error, volatile fields removed."""
    if call.response is None:
        return None
    payload = call.response.payload
    kept = {k: copy.deepcopy(v) for k, v in payload.items() if k in ("result", "error")}
    for parts in ignores:
        remove_path(kept, parts)
    return kept


def _steps(call: Call) -> list[tuple[Any, Any, Any]]:
    return [(p.get("progress"), p.get("total"), p.get("message")) for p in call.progress]


def compare_progress(recorded: Call, received: Call, tolerance: int) -> list[Divergence]:
    """Count (within `tolerance`), increasing values, final progress = total, same steps."""
    want, got = _steps(recorded), _steps(received)
    found: list[Divergence] = []
    if abs(len(want) - len(got)) > tolerance:
        found.append(Divergence("progress notification count", len(want), len(got)))
    values = [step[0] for step in got]
    if any(not _less(a, b) for a, b in zip(values, values[1:], strict=False)):
        found.append(Divergence("progress did not increase", None, values))
    if want and got and want[-1][1] is not None and want[-1][0] == want[-1][1]:
        if got[-1][0] != got[-1][1]:
            found.append(Divergence("final progress did not reach total", want[-1], got[-1]))
    if len(want) == len(got):
        for index, (a, b) in enumerate(zip(want, got, strict=True)):
            if a != b:
                found.append(Divergence(f"progress #{index + 1} (progress, total, message)", a, b))
                break
    elif not found:  # different counts within tolerance: compare messages, not positions
        if [s[2] for s in want if s[2]] != [s[2] for s in got if s[2]] and tolerance == 0:
            found.append(Divergence("progress messages", [s[2] for s in want], [s[2] for s in got]))
    return found


def _less(a: Any, b: Any) -> bool:
    try:
        return bool(a < b)
    except TypeError:
        return False


def compare_calls(
    recorded: Sequence[Call],
    replayed_of: Callable[[Call], Call | None],
    ignore: Sequence[str] = (),
    progress_tolerance: int = 0,
    timeout: float = 30.0,
) -> list[CallVerdict]:
    """A verdict for every recorded request."""
    ignores = [parse_path(p) for p in (*DEFAULT_IGNORES, *ignore)]
    verdicts = []
    for call in recorded:
        verdict = CallVerdict(call)
        twin = replayed_of(call)
        if twin is None:
            verdict.divergences.append(Divergence("request was not replayed"))
        elif call.response is not None and twin.response is None:
            verdict.divergences.append(
                Divergence(f"no response within {timeout:g} s", _brief(call), None)
            )
        else:
            want, got = stable_outcome(call, ignores), stable_outcome(twin, ignores)
            if want != got:
                kind = "error" if twin.response and twin.response.kind is MessageKind.ERROR else ""
                verdict.divergences.append(Divergence(f"{kind or 'result'} differs", want, got))
            verdict.divergences.extend(compare_progress(call, twin, progress_tolerance))
        verdicts.append(verdict)
    return verdicts


def _brief(call: Call) -> str:
    text = json.dumps(call.response.payload if call.response else None)
    return text if len(text) < 200 else text[:197] + "..."

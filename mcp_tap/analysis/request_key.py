"""What of a request says which call it is: its method and params, volatile fields removed.

`mcp-tap serve` answers a request from the recorded one whose comparable view is the same
(`serve/matching.py`, which keeps exporting these names), and `mcp-tap diff` pairs two
recordings' calls by it. Ignored: the JSON-RPC id (never part of it), `params._meta`
(progress tokens, trace context, the 2026-07-28 envelope; with `with_meta`, all but its
volatile keys), and any path the user adds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

VOLATILE_META_KEYS = frozenset(
    {"progressToken", "traceparent", "tracestate", "baggage", "clientInfo"}
)
VOLATILE_META_PREFIX = "io.modelcontextprotocol/"
REPEAT_POLICIES = ("last", "cycle", "once")  # serve's --repeat, checked with the rest


def parse_path(path: str) -> tuple[str, ...]:
    """`$.params.arguments.size_mb` -> ('params', 'arguments', 'size_mb'); `[0]` means `.0`."""
    path = path.strip().removeprefix("$").removeprefix(".").replace("[", ".").replace("]", "")
    parts = tuple(part for part in path.split(".") if part)
    if not parts:
        raise ValueError(f"--match ignore: wants a path such as params.arguments.x, got {path!r}")
    return parts


@dataclass(frozen=True)
class MatchRules:
    """How requests are compared: `mcp-tap serve --match ... --repeat ...`."""

    ignore: tuple[tuple[str, ...], ...] = ()  # paths from the message root, `*` any key
    with_meta: bool = False  # compare params._meta too, bar its volatile keys
    method_only: bool = False  # match by method and tool/prompt/resource name alone
    repeat: str = "last"
    meta_keys: tuple[str, ...] = ()  # params._meta keys compared, volatile or not
    sequence: tuple[str, ...] | None = None  # a request field that keys separate sequences

    @classmethod
    def from_options(cls, match: Sequence[str] = (), repeat: str = "last") -> MatchRules:
        """From `--match` values (`ignore:PATH`, `with-meta`, `meta:KEY`, `method-only`,
        `sequence:PATH`); ValueError else."""
        if repeat not in REPEAT_POLICIES:
            raise ValueError(
                f"--repeat must be one of {', '.join(REPEAT_POLICIES)}, got {repeat!r}"
            )
        ignore: list[tuple[str, ...]] = []
        with_meta = method_only = False
        meta_keys: list[str] = []
        sequence: tuple[str, ...] | None = None
        for rule in match:
            if rule.startswith("ignore:"):
                ignore.append(parse_path(rule.removeprefix("ignore:")))
            elif rule.startswith("meta:") and rule != "meta:":
                meta_keys.append(rule.removeprefix("meta:"))
            elif rule.startswith("sequence:"):
                sequence = parse_path(rule.removeprefix("sequence:"))
            elif rule == "with-meta":
                with_meta = True
            elif rule == "method-only":
                method_only = True
            else:
                raise ValueError(
                    f"--match {rule!r}: expected ignore:PATH, with-meta, meta:KEY, method-only "
                    "or sequence:PATH"
                )
        return cls(tuple(ignore), with_meta, method_only, repeat, tuple(meta_keys), sequence)


def comparable(request: dict[str, Any], rules: MatchRules) -> dict[str, Any]:
    """What of a request is compared: its params, volatile fields removed."""
    params = request.get("params")
    params = dict(params) if isinstance(params, dict) else {} if params is None else params
    if isinstance(params, dict):
        meta = params.pop("_meta", None)
        if (rules.with_meta or rules.meta_keys) and isinstance(meta, dict):
            kept = {
                k: v
                for k, v in meta.items()
                if k in rules.meta_keys
                or (
                    rules.with_meta
                    and k not in VOLATILE_META_KEYS
                    and not k.startswith(VOLATILE_META_PREFIX)
                )
            }
            if kept:
                params["_meta"] = kept
        if rules.method_only:
            params = {k: v for k, v in params.items() if k in ("name", "uri")}
    view: dict[str, Any] = {"params": params}
    for path in rules.ignore:
        view = _without(view, path)
    return view


def sequence_of(request: dict[str, Any], rules: MatchRules) -> str:
    """Which sequence a request moves: the value of `--match sequence:PATH` in it, or one."""
    if rules.sequence is None:
        return ""
    value: Any = request
    for part in rules.sequence:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            value = None
    return json.dumps(value, sort_keys=True, default=str)


def _without(value: Any, path: Sequence[str]) -> Any:
    """A copy of `value` with what `path` names removed (copies only along the path)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [head] if head in value else []
        if not keys:
            return value
        out = dict(value)
        for key in keys:
            if rest:
                out[key] = _without(value[key], rest)
            else:
                del out[key]
        return out
    if isinstance(value, list):
        indexes = range(len(value)) if head == "*" else [int(head)] if head.isdigit() else []
        out_list = list(value)
        for index in sorted((i for i in indexes if i < len(value)), reverse=True):
            if rest:
                out_list[index] = _without(value[index], rest)
            else:
                del out_list[index]
        return out_list
    return value


def call_key(request: dict[str, Any], rules: MatchRules | None = None) -> str:
    """One string per distinct call: the method and the comparable params, canonical JSON."""
    view = comparable(request, rules or MatchRules())
    method = request.get("method")
    return json.dumps([method, view], sort_keys=True, ensure_ascii=False, default=str)

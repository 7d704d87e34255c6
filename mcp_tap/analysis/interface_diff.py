"""How two interfaces differ: the server, and each tool, prompt, resource and template.

A removed definition is breaking, an added one compatible. A changed one is taken field by
field: schemas by `schema_diff` (inputs and outputs each in their direction), annotations by
whether a hint moved away from safe (`readOnlyHint` true to false, `destructiveHint` false
to true: a host that trusted them decides differently), a prompt's arguments by whether a
client's call still fits, a description by a word diff. Text that hides from a person or
addresses the model, new in the second, is `suspicious` (`suspicious.py`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from mcp_tap.analysis.diff import MISSING, join_path, json_diff, names_a_field
from mcp_tap.analysis.differences import Difference, Impact
from mcp_tap.analysis.interface import KINDS, Interface, ListKind
from mcp_tap.analysis.schema_diff import schema_changes
from mcp_tap.analysis.suspicious import escaped, strings_of, suspicions

# Each hint's value when absent (the spec's defaults) and the value a cautious host prefers.
HINTS = {
    "readOnlyHint": (False, True),
    "destructiveHint": (True, False),
    "idempotentHint": (False, True),
    "openWorldHint": (True, False),
}
CONTEXT_WORDS = 6  # unchanged words kept on each side of a change in a word diff
_TOKENS = re.compile(r"\s+|[^\s]+")


def item_path(kind: ListKind, name: str) -> str:
    """`tools[name=add]`: the path of one definition, as `json_diff` and `--ignore` write it."""
    return f"{kind.field}[{kind.key}={name}]"


def interface_changes(
    before: Interface, after: Interface, ignore: Sequence[str] = ()
) -> tuple[list[Difference], list[str]]:
    """The differences from `before` to `after`, and notes on what could not be compared."""
    found: list[Difference] = []
    notes: list[str] = []
    if before.server and after.server:
        found.extend(server_changes(before.server, after.server))
    elif before.server or after.server:
        notes.append("server: only one recording holds an initialize or server/discover result")
    for kind in KINDS:
        old, new = before.items.get(kind.field), after.items.get(kind.field)
        if old is None or new is None:
            if old is not None or new is not None:
                notes.append(f"{kind.field}: listed in only one recording, not compared")
            continue
        for name in [*old, *(n for n in new if n not in old)]:
            found.extend(definition_changes(kind, name, old.get(name), new.get(name)))
    kept = [d for d in found if not any(names_a_field(p, d.path) for p in ignore)]
    return kept, notes


def server_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Difference]:
    """Server info, protocol version, capabilities and instructions."""
    found = []
    for change in json_diff(old, new, path="server"):
        path, a, b = change.path, change.recorded, change.received
        if path == "server.instructions":
            continue  # text: a word diff below
        impact = Impact.COMPATIBLE
        if path.startswith("server.capabilities"):
            name = path.removeprefix("server.capabilities.")
            lost = b is MISSING or (b in (False, None) and a not in (False, None))
            impact = Impact.BREAKING if lost else Impact.COMPATIBLE
            what = f"capability {name} {change.kind}"
        elif path == "server.protocolVersion":
            impact, what = Impact.BREAKING, f"protocol version {_shown(a)} -> {_shown(b)}"
        else:
            what = f"{path.removeprefix('server.')} {change.kind}"
        found.append(Difference("server", "server", path, what, impact, a, b))
    a, b = old.get("instructions", MISSING), new.get("instructions", MISSING)
    if a != b:
        found.extend(_text("server", "server", "server.instructions", "instructions", a, b))
    found.extend(_suspicious("server", "server", "server", old, new))
    return found


def definition_changes(
    kind: ListKind, name: str, old: dict[str, Any] | None, new: dict[str, Any] | None
) -> list[Difference]:
    """How one definition changed; `old` or `new` is None where it does not exist."""
    subject = f"{kind.noun} {name}"
    path = item_path(kind, name)
    if new is None:
        return [Difference(kind.field, subject, path, "removed", Impact.BREAKING, old)]
    if old is None:
        added = Difference(kind.field, subject, path, "added", Impact.COMPATIBLE, MISSING, new)
        return [added, *_suspicious(kind.field, subject, path, {}, new)]
    found: list[Difference] = []
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key, MISSING), new.get(key, MISSING)
        at = join_path(path, key)
        if _equal(a, b):
            continue
        if key in ("description", "title") and _text_or_missing(a, b):
            found.extend(_text(kind.field, subject, at, key, a, b))
        elif key in ("inputSchema", "outputSchema"):
            found.extend(_schema(kind.field, subject, at, key, a, b))
        elif key == "annotations":
            found.extend(_annotations(kind.field, subject, at, a, b))
        elif key == "arguments" and kind.field == "prompts":
            found.extend(_arguments(subject, at, a, b))
        else:
            for change in json_diff(a, b, path=at):
                what = f"{change.path.removeprefix(path + '.')} {change.kind}"
                found.append(
                    Difference(
                        kind.field,
                        subject,
                        change.path,
                        what,
                        Impact.COMPATIBLE,
                        change.recorded,
                        change.received,
                    )
                )
    found.extend(_suspicious(kind.field, subject, path, old, new))
    return found


def summary(changes: Sequence[Difference]) -> str:
    """The changes of one definition in a line: `inputSchema: new required property 'b'; ...`."""
    return "; ".join(described(change) for change in changes)


def described(change: Difference) -> str:
    """One change of a definition, where it is within the definition and what it is:
    `annotations: readOnlyHint true -> false`, `inputSchema.required: new required ...`."""
    where = change.path.split("]", 1)[1].lstrip(".") if "]" in change.path else ""
    if not where or change.what.startswith(where):
        return change.what
    head, _, last = where.rpartition(".")
    if head and change.what.startswith(last + " "):
        return f"{head}: {change.what}"  # the keyword already begins what is said
    return f"{where}: {change.what}"


def word_diff(old: str, new: str) -> str:
    """`new` against `old` word by word, `[-gone-]{+came+}`, escaped, long equal runs cut."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    out: list[str] = []
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            words = a[i1:i2]
            keep = 2 * CONTEXT_WORDS  # tokens: words and the blanks between them
            head = words[:keep] if index > 0 else []
            tail = words[-keep:] if index < len(opcodes) - 1 else []
            if len(words) > len(head) + len(tail) + 1:
                before = escaped("".join(head)).rstrip() + " " if head else ""
                after = " " + escaped("".join(tail)).lstrip() if tail else ""
                out.append(f"{before}...{after}")
            else:
                out.append(escaped("".join(words)))
            continue
        if i2 > i1:
            out.append("[-" + escaped("".join(a[i1:i2])) + "-]")
        if j2 > j1:
            out.append("{+" + escaped("".join(b[j1:j2])) + "+}")
    return "".join(out)


def _text(area: str, subject: str, path: str, key: str, a: Any, b: Any) -> list[Difference]:
    if a is MISSING or b is MISSING:
        verb = "added" if a is MISSING else "removed"
        return [Difference(area, subject, path, f"{key} {verb}", Impact.COMPATIBLE, a, b)]
    detail = word_diff(a, b)
    return [Difference(area, subject, path, f"{key} changed", Impact.COMPATIBLE, a, b, detail)]


def _schema(area: str, subject: str, path: str, key: str, a: Any, b: Any) -> list[Difference]:
    if key == "outputSchema" and (a is MISSING or b is MISSING):
        impact = Impact.COMPATIBLE if a is MISSING else Impact.BREAKING
        what = "outputSchema added" if a is MISSING else "outputSchema removed"
        return [Difference(area, subject, path, what, impact, a, b)]
    return [
        Difference(area, subject, c.path, c.what, c.impact, c.before, c.after)
        for c in schema_changes(a, b, path, inputs=key == "inputSchema")
    ]


def _annotations(area: str, subject: str, path: str, a: Any, b: Any) -> list[Difference]:
    old = a if isinstance(a, dict) else {}
    new = b if isinstance(b, dict) else {}
    found = []
    for key in [*old, *(k for k in new if k not in old)]:
        if _equal(old.get(key, MISSING), new.get(key, MISSING)):
            continue
        at = join_path(path, key)
        if key in HINTS:
            default, safe = HINTS[key]
            before, after = old.get(key, default), new.get(key, default)
            if before == after:
                continue
            impact = Impact.BREAKING if before == safe else Impact.COMPATIBLE
            what = f"{key} {_flag(old, key)} -> {_flag(new, key)}"
        else:
            impact, what = Impact.COMPATIBLE, f"annotations.{key} changed"
        found.append(
            Difference(
                area, subject, at, what, impact, old.get(key, MISSING), new.get(key, MISSING)
            )
        )
    return found


def _flag(annotations: dict[str, Any], key: str) -> str:
    if key not in annotations:
        return f"unset ({str(HINTS[key][0]).lower()})"
    return str(annotations[key]).lower()


def _arguments(subject: str, path: str, a: Any, b: Any) -> list[Difference]:
    old = {x["name"]: x for x in a or [] if isinstance(x, dict) and isinstance(x.get("name"), str)}
    new = {x["name"]: x for x in b or [] if isinstance(x, dict) and isinstance(x.get("name"), str)}
    found = []
    for name in [*old, *(n for n in new if n not in old)]:
        at = f"{path}[name={name}]"
        was, now = old.get(name), new.get(name)
        if now is None:
            found.append(
                Difference(
                    "prompts", subject, at, f"argument {name!r} removed", Impact.BREAKING, was
                )
            )
        elif was is None:
            required = bool(now.get("required"))
            impact = Impact.BREAKING if required else Impact.COMPATIBLE
            what = f"new {'required' if required else 'optional'} argument {name!r}"
            found.append(Difference("prompts", subject, at, what, impact, MISSING, now))
        elif bool(was.get("required")) != bool(now.get("required")):
            impact = Impact.BREAKING if now.get("required") else Impact.COMPATIBLE
            what = f"argument {name!r} {'now' if now.get('required') else 'no longer'} required"
            found.append(Difference("prompts", subject, at, what, impact, was, now))
        elif not _equal(was, now):
            found.append(
                Difference(
                    "prompts",
                    subject,
                    at,
                    f"argument {name!r} changed",
                    Impact.COMPATIBLE,
                    was,
                    now,
                )
            )
    return found


def _suspicious(area: str, subject: str, path: str, old: Any, new: Any) -> list[Difference]:
    """Hidden text or directives in `new` that `old` did not have."""
    seen = {
        (where, s.rule.slug, text[s.start : s.end])
        for where, text in strings_of(old)
        for s in suspicions(text)
    }
    found = []
    for where, text in strings_of(new):
        for s in suspicions(text):
            if (where, s.rule.slug, text[s.start : s.end]) in seen:
                continue
            at = path if where == "$" else f"{path}{'' if where.startswith('[') else '.'}{where}"
            found.append(
                Difference(
                    area,
                    subject,
                    at,
                    f"{where}: {s.what}",
                    Impact.SUSPICIOUS,
                    MISSING,
                    text,
                    s.shown,
                )
            )
    return found


def _shown(value: Any) -> str:
    return "(none)" if value is MISSING else str(value)


def _text_or_missing(a: Any, b: Any) -> bool:
    return all(isinstance(v, str) or v is MISSING for v in (a, b))


def _equal(a: Any, b: Any) -> bool:
    return not json_diff(a, b) if a is not MISSING and b is not MISSING else a is b

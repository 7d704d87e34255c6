"""The text edits that make one server entry run through `mcp-tap stdio`, and undo it.

Wrapping replaces the entry's `command` with mcp-tap and puts mcp-tap's own words before the
entry's `args` items: `stdio --host-entry NAME --record PATTERN -- CMD`, where CMD is the
original command's text, moved as it was. The original items stay where they were, untouched,
so unwrapping is the reverse edit: CMD goes back to `command` and the inserted words go.
Neither touches another byte of the file, so an unwrap gives back the original entry exactly,
whatever the user changed elsewhere in the meantime.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mcp_tap.hosts.formats import HOST_ENTRY_FLAG, NO_ARGS_FLAG, PYTHON_PREFIX, Server
from mcp_tap.hosts.jsonc import Member, Node


class NotWrappable(Exception):
    """Why an entry is left as it is (one line)."""


@dataclass(frozen=True)
class Edit:
    """Replace `text[start:end]` with `replacement`."""

    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class Invocation:
    """How a host starts mcp-tap: `command` and the args before `stdio`."""

    command: str
    prefix: tuple[str, ...] = ()


def this_invocation() -> Invocation:
    """The mcp-tap that is running, by absolute path: the `mcp-tap` script installed beside
    this Python when there is one, else this Python with `-m mcp_tap`. A host starts servers
    with a PATH of its own, so a bare `mcp-tap` might not be found."""
    bin_dir = Path(sys.executable).parent  # not resolved: a venv's python is a symlink
    for name in ("mcp-tap.exe", "mcp-tap") if os.name == "nt" else ("mcp-tap",):
        script = bin_dir / name
        if script.is_file():
            return Invocation(str(script.absolute()))
    return Invocation(str(Path(sys.executable).absolute()), PYTHON_PREFIX)


def apply(text: str, edits: Iterable[Edit]) -> str:
    """`text` with the (non-overlapping) edits made."""
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.replacement + text[edit.end :]
    return text


def _quoted(word: str) -> str:
    return json.dumps(word, ensure_ascii=False)


def wrap_edits(text: str, server: Server, invocation: Invocation, record: str | None) -> list[Edit]:
    """The edits that wrap `server`; NotWrappable says why when it cannot be."""
    if server.wrapped is not None:
        raise NotWrappable("already wrapped")
    if server.kind == "http":
        raise NotWrappable(
            "an HTTP server: run `mcp-tap proxy --target URL` and point the host at the proxy"
        )
    command = server.node.get("command")
    if command is None or command.kind != "string":
        raise NotWrappable("no command to run")
    args_member = server.node.member("args")
    if args_member is not None and args_member.value.kind != "array":
        raise NotWrappable("its args are not a list")
    options = [HOST_ENTRY_FLAG, server.name]
    if args_member is None:
        options.append(NO_ARGS_FLAG)
    options += ["--record", record] if record is not None else ["--no-record"]
    words = [_quoted(w) for w in (*invocation.prefix, "stdio", *options, "--")]
    words.append(text[command.start : command.end])  # the original command, byte for byte
    edits = [Edit(command.start, command.end, _quoted(invocation.command))]
    if args_member is None:
        command_member = server.node.member("command")
        assert command_member is not None
        indent = _member_indent(text, command_member)
        inserted = f',{indent}"args": [{", ".join(words)}]'
        edits.append(Edit(command.end, command.end, inserted))
    else:
        edits.append(_insert_items(text, args_member.value, words))
    return edits


def _member_indent(text: str, member: Member) -> str:
    """The whitespace before a member's key from its line's start (a newline and the indent),
    or one space on a one-line object; the new `args` member goes on a line of its own."""
    start = member.key_start
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    if start > 0 and text[start - 1] == "\n":
        start -= 2 if start > 1 and text[start - 2] == "\r" else 1
        return text[start : member.key_start]
    return " "


def _insert_items(text: str, array: Node, words: list[str]) -> Edit:
    """Put `words` first in `array`, laid out like the items already there."""
    if not array.items:  # before `]`, after any space inside the brackets
        return Edit(array.end - 1, array.end - 1, ", ".join(words))
    first = array.items[0]
    separator = ", "
    if len(array.items) > 1:
        between = text[first.end : array.items[1].start]
        if between.replace(",", "", 1).strip(" \t\r\n") == "" and "," in between:
            separator = between  # the file's own: `,` then its newline and indent, or `, `
    else:
        before = text[array.start + 1 : first.start]
        if "\n" in before and not before.strip(" \t\r\n"):
            separator = "," + before
    return Edit(first.start, first.start, "".join(w + separator for w in words))


def unwrap_edits(text: str, server: Server) -> list[Edit]:
    """The edits that give `server` back its own command and args, as they were."""
    wrapped = server.wrapped
    command = server.node.get("command")
    args_member = server.node.member("args")
    if wrapped is None or command is None or args_member is None:
        raise NotWrappable("not wrapped by mcp-tap")
    items = args_member.value.items
    original = items[wrapped.separator + 1]
    edits = [Edit(command.start, command.end, text[original.start : original.end])]
    if not wrapped.had_args:
        edits.append(_remove_member(server.node, args_member.key_start, args_member.value.end))
    elif len(items) > wrapped.separator + 2:  # the entry's own items follow: keep them
        edits.append(Edit(items[0].start, items[wrapped.separator + 2].start, ""))
    else:
        edits.append(Edit(items[0].start, original.end, ""))
    return edits


def _remove_member(entry: Node, key_start: int, value_end: int) -> Edit:
    """Remove a member with the comma and space that joined it to the one before (as wrap
    inserted it), or, first in its object, with the comma and space after it."""
    index = next(i for i, m in enumerate(entry.members) if m.key_start == key_start)
    if index > 0:
        return Edit(entry.members[index - 1].value.end, value_end, "")
    if len(entry.members) > 1:
        return Edit(key_start, entry.members[1].key_start, "")
    return Edit(key_start, value_end, "")

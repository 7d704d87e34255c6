"""One host config file read and changed as a whole: its servers, and the new text with the
chosen entries wrapped or unwrapped, with a line for each entry saying what was done.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from mcp_tap.hosts.files import read_text
from mcp_tap.hosts.formats import Server, servers
from mcp_tap.hosts.jsonc import JsonSyntaxError, Node, parse
from mcp_tap.hosts.wrapping import Edit, Invocation, NotWrappable, apply, unwrap_edits, wrap_edits


class UnreadableConfig(Exception):
    """A config file that is left untouched: the message says which and why, in one line."""


@dataclass
class HostConfig:
    """A host's config file as read: its text, its parsed root and its servers."""

    host: str
    path: Path
    text: str
    root: Node
    servers: list[Server]


@dataclass(frozen=True)
class Outcome:
    """What happened to one entry: `done` or left alone, and why."""

    server: Server
    done: bool
    note: str = ""


def load(host: str, path: Path) -> HostConfig:
    """Read and parse `path` as `host`'s config; UnreadableConfig says why it cannot be."""
    try:
        text = read_text(path)
        root = parse(text)
    except (OSError, ValueError) as error:  # JsonSyntaxError is a ValueError
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise UnreadableConfig(f"{path}: cannot read it: {reason}") from None
    if root.kind != "object":
        raise UnreadableConfig(f"{path}: not a JSON object at the top")
    return HostConfig(host, path, text, root, servers(host, root))


def chosen(config: HostConfig, names: Collection[str]) -> list[Server]:
    """The servers named (all of them when `names` is empty)."""
    return [s for s in config.servers if not names or s.name in names]


def wrapped_text(
    config: HostConfig,
    names: Collection[str],
    invocation: Invocation,
    record_for: Callable[[Server], str | None],
) -> tuple[str, list[Outcome]]:
    """The file's text with the chosen stdio entries wrapped."""
    targets = chosen(config, names)
    return _edited(config, targets, lambda s: wrap_edits(config.text, s, invocation, record_for(s)))


def unwrapped_text(config: HostConfig, names: Collection[str]) -> tuple[str, list[Outcome]]:
    """The file's text with the chosen wrapped entries as they were before the wrap."""
    targets = [s for s in chosen(config, names) if s.wrapped is not None]
    return _edited(config, targets, lambda s: unwrap_edits(config.text, s))


def _edited(
    config: HostConfig, targets: list[Server], edits_for: Callable[[Server], list[Edit]]
) -> tuple[str, list[Outcome]]:
    edits: list[Edit] = []
    outcomes = []
    for server in targets:
        try:
            edits += edits_for(server)
        except NotWrappable as why:
            outcomes.append(Outcome(server, False, str(why)))
        else:
            outcomes.append(Outcome(server, True))
    text = apply(config.text, edits)
    try:
        parse(text)  # never write a file the host could not read
    except JsonSyntaxError as error:  # pragma: no cover - an edit here would be a bug
        raise UnreadableConfig(f"{config.path}: the edit would break it ({error})") from None
    return text, outcomes

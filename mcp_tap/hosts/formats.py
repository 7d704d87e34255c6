"""What a host's config file holds: its MCP servers, found by where each host keeps them.

Every host but VS Code keeps a `mcpServers` object of name -> entry (Claude Code also one per
project under `projects.<path>.mcpServers` in ~/.claude.json); VS Code's mcp.json keeps
`servers` (beside `inputs`). An entry runs a command (`command`, `args`, `env`, `cwd`) or
names a URL (`url`; Windsurf also `serverUrl`). `wrapped_form` says whether an entry is one
`mcp-tap hosts wrap` wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mcp_tap.hosts.jsonc import Node

HOST_ENTRY_FLAG = "--host-entry"  # the marker: `mcp-tap stdio --host-entry NAME ... -- CMD`
NO_ARGS_FLAG = "--host-entry-had-no-args"  # the entry had no `args`: unwrap removes it again
PYTHON_PREFIX = ("-m", "mcp_tap")
URL_KEYS = ("url", "serverUrl")  # serverUrl: Windsurf (docs.windsurf.com/windsurf/cascade/mcp)
HTTP_TYPES = frozenset({"http", "sse", "streamable-http", "streamableHttp"})


@dataclass(frozen=True)
class Wrapped:
    """The parts of a wrapped entry's args: `args[separator]` is `--`, then the server's own
    command and args."""

    separator: int
    had_args: bool
    name: str

    def inner(self, args: Sequence[str]) -> list[str]:
        """The server's own command line, as it was before the wrap."""
        return list(args[self.separator + 1 :])


@dataclass
class Server:
    """One server entry of a config file, and the node that holds it."""

    name: str
    scope: str  # "" at the top, else where it sits (`projects./home/me/app` in ~/.claude.json)
    node: Node
    kind: str  # stdio, http, or unknown
    command: str | None
    args: list[str]
    url: str | None
    wrapped: Wrapped | None

    @property
    def label(self) -> str:
        """The name as `list` shows it: with its scope when it has one."""
        return f"{self.name} ({self.scope})" if self.scope else self.name


def server_maps(host: str, root: Node) -> list[tuple[str, Node]]:
    """The objects of name -> entry in a host's document, each with its scope label."""
    if root.kind != "object":
        return []
    key = "servers" if host == "vscode" else "mcpServers"
    found = []
    top = root.get(key)
    if top is not None and top.kind == "object":
        found.append(("", top))
    projects = root.get("projects") if host == "claude-code" else None
    if projects is not None and projects.kind == "object":
        for project in projects.members:
            inner = project.value.get("mcpServers") if project.value.kind == "object" else None
            if inner is not None and inner.kind == "object":
                found.append((f"projects.{project.key}", inner))
    return found


def servers(host: str, root: Node) -> list[Server]:
    """Every server entry of the document, in file order."""
    found = []
    for scope, servers_map in server_maps(host, root):
        for member in servers_map.members:
            if member.value.kind == "object":
                found.append(_server(member.key, scope, member.value))
    return found


def _string(node: Node | None) -> str | None:
    return node.scalar if node is not None and node.kind == "string" else None


def _server(name: str, scope: str, node: Node) -> Server:
    command = _string(node.get("command"))
    args_node = node.get("args")
    args: list[str] = []
    if args_node is not None and args_node.kind == "array":
        args = [
            item.scalar if item.kind == "string" else str(item.value()) for item in args_node.items
        ]
    url = next((_string(node.get(key)) for key in URL_KEYS if _string(node.get(key))), None)
    if command is not None:
        kind = "stdio"
    elif url is not None or _string(node.get("type")) in HTTP_TYPES:
        kind = "http"
    else:
        kind = "unknown"
    wrapped = wrapped_form(command, args) if kind == "stdio" else None
    return Server(name, scope, node, kind, command, args, url, wrapped)


def wrapped_form(command: str | None, args: Sequence[str]) -> Wrapped | None:
    """How `args` were wrapped by `hosts wrap`, or None when they were not.

    The shape: [`-m mcp_tap`] `stdio` options... `--host-entry NAME` options... `--` CMD ARGS.
    """
    if command is None:
        return None
    start = len(PYTHON_PREFIX) if tuple(args[: len(PYTHON_PREFIX)]) == PYTHON_PREFIX else 0
    if start >= len(args) or args[start] != "stdio" or "--" not in args[start:]:
        return None
    separator = args.index("--", start)
    options = list(args[start + 1 : separator])
    if HOST_ENTRY_FLAG not in options or separator + 1 >= len(args):
        return None
    at = options.index(HOST_ENTRY_FLAG)
    if at + 1 >= len(options):
        return None
    return Wrapped(separator, NO_ARGS_FLAG not in options, options[at + 1])

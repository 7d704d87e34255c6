"""`mcp-tap hosts list|wrap|unwrap`: the MCP hosts' config files, their servers run through
`mcp-tap stdio` and back (`mcp_tap.hosts` holds the formats, the places and the edits).

A file that cannot be read or parsed is never written: one line on stderr names it, the other
files are done, and the exit code is 2.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mcp_tap.cli.common import UserError
from mcp_tap.cli.options import Commands, add_command
from mcp_tap.hosts.config import (
    HostConfig,
    Outcome,
    UnreadableConfig,
    load,
    unwrapped_text,
    wrapped_text,
)
from mcp_tap.hosts.files import FileChanged, backup, unified_diff, write_atomically
from mcp_tap.hosts.formats import Server
from mcp_tap.hosts.locations import HOSTS, config_files, default_recording_dir
from mcp_tap.hosts.wrapping import this_invocation

EXIT_SKIPPED = 2
RECORDING_NAME = "{name}-{time}-{pid}.yaml"


def register(commands: Commands) -> None:
    """Add `mcp-tap hosts` and its actions."""
    hosts = add_command(
        commands,
        "hosts",
        run,
        "list the MCP servers of Claude Desktop, Claude Code, Cursor, VS Code and Windsurf; "
        "wrap them in `mcp-tap stdio`, and unwrap them",
        "Find the hosts' MCP config files, list their servers, and rewrite their stdio "
        "entries to run through `mcp-tap stdio` (each launch recorded to a file of its own), "
        "or back as they were. Only the entries' command and args change; the rest of each "
        "file stays byte for byte, and a timestamped backup is left beside it.",
        "hosts list",
        "hosts wrap --dry-run",
        "hosts wrap claude-desktop github --record-dir ~/mcp-recordings",
        "hosts unwrap",
        "hosts wrap --config ./my-mcp.json --host cursor",
    )
    actions = hosts.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, summary in (
        ("list", "show each host's servers: kind, command or URL, wrapped or not"),
        ("wrap", "run the stdio servers through `mcp-tap stdio`, recording each launch"),
        ("unwrap", "give the wrapped entries back their own command and args, exactly"),
    ):
        action = actions.add_parser(name, help=summary, description=summary)
        action.add_argument(
            "targets",
            nargs="*",
            metavar="HOST|SERVER",
            help=f"a host ({', '.join(HOSTS)}) and server names; all of them when left out",
        )
        action.add_argument(
            "--config", metavar="FILE", help="this config file only (with --host for its format)"
        )
        action.add_argument("--host", choices=HOSTS, help="the host whose format --config has")
        action.add_argument(
            "--project",
            metavar="DIR",
            help="the project whose .mcp.json, .cursor/ and .vscode/ files count "
            "(default: the current folder)",
        )
        if name != "list":
            action.add_argument(
                "--dry-run", action="store_true", help="print the change as a diff; write nothing"
            )
        if name == "wrap":
            record = action.add_mutually_exclusive_group()
            record.add_argument(
                "--record-dir",
                metavar="DIR",
                help="where each launch writes its recording, as "
                f"{RECORDING_NAME} (default: a per-user data folder, e.g. "
                "~/.local/share/mcp-tap/recordings)",
            )
            record.add_argument(
                "--no-record", action="store_true", help="relay and check, but record nothing"
            )


@dataclass
class _Run:
    """What one run has found so far: the files read, and whether any had to be skipped."""

    configs: list[HostConfig] = field(default_factory=list)
    skipped: bool = False

    def skip(self, message: str) -> None:
        print(f"mcp-tap: skipped {message}", file=sys.stderr)
        self.skipped = True


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; 2 when a file had to be left alone."""
    host, names = _targets(args.targets)
    state = _Run()
    for file_host, path in _files(args, host):
        try:
            state.configs.append(load(file_host, path))
        except UnreadableConfig as error:
            state.skip(str(error))
    found = {s.name for config in state.configs for s in config.servers}
    missing = [name for name in names if name not in found]
    if missing:
        raise UserError(f"no server named {', '.join(missing)} in the hosts' config files")
    if args.action == "list":
        _list(state.configs)
    elif args.action == "wrap":
        record = None if args.no_record else _recording_pattern(args.record_dir)
        for config in state.configs:
            text, outcomes = wrapped_text(config, names, this_invocation(), lambda s: record)
            _change(state, config, text, outcomes, "wrapped", args.dry_run)
    else:
        for config in state.configs:
            text, outcomes = unwrapped_text(config, names)
            _change(state, config, text, outcomes, "unwrapped", args.dry_run)
    return EXIT_SKIPPED if state.skipped else 0


def _targets(words: list[str]) -> tuple[str | None, list[str]]:
    """[HOST] [SERVER...]: a first word that names a host is the host."""
    if words and words[0] in HOSTS:
        return words[0], words[1:]
    return None, list(words)


def _files(args: argparse.Namespace, host: str | None) -> list[tuple[str, Path]]:
    """The config files to read: --config, else every host's that exists here."""
    if args.config is not None:
        chosen_host = args.host or host
        if chosen_host is None:
            raise UserError(f"--config needs --host to say its format ({', '.join(HOSTS)})")
        path = Path(args.config).expanduser()
        if not path.is_file():
            raise UserError(f"{path} is not a file")
        return [(chosen_host, path)]
    if args.host is not None:
        raise UserError("--host goes with --config (to name a host, write it before the servers)")
    project = Path(args.project).expanduser() if args.project else Path.cwd()
    files = config_files(platform.system(), os.environ, project.absolute())
    return [
        (f.host, Path(f.path))
        for f in files
        if (host is None or f.host == host) and Path(f.path).is_file()
    ]


def _recording_pattern(record_dir: str | None) -> str:
    """An absolute per-launch pattern: a host starts its servers in a folder of its own."""
    if record_dir is None:
        folder = Path(default_recording_dir(platform.system(), os.environ))
    else:
        folder = Path(record_dir).expanduser().absolute()
    return str(folder / RECORDING_NAME)


def _list(configs: list[HostConfig]) -> None:
    if not configs:
        print("no MCP host config files found (mcp-tap hosts list --help says where it looks)")
    for config in configs:
        print(f"{config.host}  {config.path}")
        if not config.servers:
            print("  (no servers)")
        width = max((len(s.label) for s in config.servers), default=0)
        for server in config.servers:
            state = "wrapped" if server.wrapped is not None else "not wrapped"
            print(f"  {server.label:<{width}}  {server.kind:<7}  {state:<11}  {_detail(server)}")


def _detail(server: Server) -> str:
    if server.kind == "http":
        return f"{server.url or '(no url)'}  (HTTP: not wrappable; use mcp-tap proxy --target)"
    if server.kind != "stdio" or server.command is None:
        return "(neither a command nor a url)"
    if server.wrapped is not None:
        return shlex.join(server.wrapped.inner(server.args))
    return shlex.join([server.command, *server.args])


def _change(
    state: _Run, config: HostConfig, text: str, outcomes: list[Outcome], verb: str, dry: bool
) -> None:
    for outcome in outcomes:
        where = f"{config.host} {outcome.server.label}"
        print(f"{verb} {where}" if outcome.done else f"left {where}: {outcome.note}")
    if text == config.text:
        return
    if dry:
        print(unified_diff(config.path, config.text, text), end="")
        return
    try:
        saved = backup(config.path)
        write_atomically(config.path, text, config.text)
    except FileChanged as error:
        state.skip(str(error))
    except OSError as error:
        state.skip(f"{config.path}: cannot write it: {error.strerror or error}")
    else:
        print(f"wrote {config.path} (backup: {saved.name})")

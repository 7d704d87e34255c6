"""The `mcp-tap` command line: gather the commands' parsers, run the one asked for, and turn
bad input into one line on stderr.

Each command is a module of this package with `register(commands)`, which adds its
subcommand, flags and run function; the flag groups they share are in `options`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from mcp_tap.cli import (
    ca,
    check,
    demo,
    diff,
    export,
    hosts,
    pin,
    proxy,
    replay,
    report,
    serve,
    show,
    stdio,
    web,
)
from mcp_tap.cli.common import UserError
from mcp_tap.cli.options import Commands, examples
from mcp_tap.http.ca import CAError
from mcp_tap.http.serving import PortInUse
from mcp_tap.recording.reader import RecordingError
from mcp_tap.recording.writer import mcp_tap_version
from mcp_tap.replay.replayer import ReplayError
from mcp_tap.view.visible import visible

EXIT_BAD_INPUT = 2

# In the order `mcp-tap --help` lists them.
COMMANDS: tuple[Callable[[Commands], None], ...] = (
    proxy.register,
    ca.register,
    stdio.register,
    hosts.register,
    show.register,
    replay.register,
    check.register,
    diff.register,
    pin.register,
    export.register,
    report.register,
    serve.register,
    demo.register,
    web.register,
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; each parsed command carries its `run` function."""
    parser = argparse.ArgumentParser(
        prog="mcp-tap",
        description="Record-and-replay inspector for the Model Context Protocol.",
        epilog=examples("demo", "proxy --target http://127.0.0.1:8000/mcp", "show FILE.yaml"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mcp-tap {mcp_tap_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mcp-tap` console script."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (UserError, PortInUse, ValueError, RecordingError, ReplayError, CAError) as error:
        print(f"mcp-tap: {visible(str(error))}", file=sys.stderr)  # may quote a recording
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

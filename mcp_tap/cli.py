"""The `mcp-tap` command line: parse arguments, call library functions, turn errors into one line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from mcp_tap.bus import TapBus
from mcp_tap.printer import LinePrinter
from mcp_tap.run_proxy import ProxyOptions, run_proxy
from mcp_tap.serving import PortInUse

EXIT_BAD_INPUT = 2


class UserError(Exception):
    """Bad input: reported as one line and exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-tap",
        description="Record-and-replay inspector for the Model Context Protocol.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    proxy = commands.add_parser("proxy", help="forward to an MCP server and show what crosses")
    proxy.add_argument(
        "--target", help="the MCP server's URL (default: start the bundled demo server)"
    )
    proxy.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    proxy.add_argument("--port", type=int, default=8890, help="listen port; 0 picks a free one")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mcp-tap` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "proxy":
            return _proxy(args)
    except (UserError, PortInUse, ValueError) as error:
        print(f"mcp-tap: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    return EXIT_BAD_INPUT


def _proxy(args: argparse.Namespace) -> int:
    options = ProxyOptions(target=args.target, host=args.host, port=args.port)
    bus = TapBus([LinePrinter()])
    try:
        asyncio.run(run_proxy(options, bus))
    finally:
        bus.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

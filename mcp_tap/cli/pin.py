"""`mcp-tap pin REC... -o mcp-pins.json`: fingerprint the definitions a server listed.

Each tool, prompt and resource template the recordings list is written with its fingerprint
and its definition (`analysis.pins`); `proxy`, `stdio` and `check` take the file as `--pins`
and raise `definition-changed` for a definition that differs from its pin. Exit 2 on bad
input, and when the recordings list nothing to pin or one name two ways.
"""

from __future__ import annotations

import argparse
import sys

from mcp_tap.analysis.interface import interface_of
from mcp_tap.analysis.pins import PINNED, Pins
from mcp_tap.cli.common import UserError, warn, write_output
from mcp_tap.cli.options import Commands, add_command
from mcp_tap.recording.reader import open_recording

DEFAULT_PINS = "mcp-pins.json"


def register(commands: Commands) -> None:
    """Add `mcp-tap pin` and its flags."""
    pin = add_command(
        commands,
        "pin",
        run,
        "fingerprint the tools, prompts and templates recordings list, for --pins",
        "Write each tool, prompt and resource template the recordings list, with a "
        "fingerprint of its definition. `proxy`, `stdio` and `check` take the file as "
        "--pins: a definition that differs from its pin, or has none, is a finding "
        "(definition-changed).",
        "pin recordings/approved.yaml -o mcp-pins.json",
        "stdio --pins mcp-pins.json -- uvx my-server",
        "check today.yaml --pins mcp-pins.json",
    )
    pin.add_argument("files", nargs="+", metavar="REC", help="recordings of one server")
    pin.add_argument(
        "-o",
        "--output",
        default=DEFAULT_PINS,
        metavar="FILE",
        help=f"write the pins here (- stdout; default {DEFAULT_PINS})",
    )


def run(args: argparse.Namespace) -> int:
    """Pin what the recordings list; 0, or 2 when there is nothing to pin."""
    interfaces = []
    for path in args.files:
        recording = open_recording(path)
        interfaces.append((path, interface_of(recording)))
        warn(recording)
    pins = Pins.of(interfaces)  # two definitions of one name: a ValueError, one line
    if not len(pins):
        kinds = ", ".join(f"{kind.field}" for kind in PINNED)
        raise UserError(f"nothing to pin: the recordings hold no list of {kinds}")
    write_output(args.output, pins.to_json())
    if args.output not in (None, "-"):
        print(f"mcp-tap: pinned {len(pins)} definitions to {args.output}", file=sys.stderr)
    return 0

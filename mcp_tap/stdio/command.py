"""A stdio server's command line, as the commands that start a server are given it.

`replay --command "python -m server --stdio"` gives one string, split here the way a shell
splits it; `program_name` is what names the exchange of a stdio session, whoever starts it.
The stdio carrier, replay and the command line all start servers from these, so they sit
below all three.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path


class CommandLineError(ValueError):
    """A command line that a shell could not split, or that names no program."""


def split_command_line(command: str, option: str = "--command") -> list[str]:
    """`"python -m demo_server --stdio"` as argv, the way a shell splits it.

    `option` is the flag that gave the line, for the message of a `CommandLineError`.
    """
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise CommandLineError(f"{option} {command!r}: {error}") from None
    if not argv:
        raise CommandLineError(f"{option} is empty: give the server's command line")
    return argv


def program_name(command: Sequence[str]) -> str:
    """The command's program without its directory, for the exchange's target."""
    return Path(command[0]).name if command else ""

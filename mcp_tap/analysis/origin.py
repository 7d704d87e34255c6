"""Where a recording's traffic went, as its header says: an HTTP target or a stdio command.

Every command that names a recording's server (`show`'s header line, the report's target
card, the exports, `replay`'s choice of a server) reads it here, so a stdio recording is
named by its command (`stdio: npx -y @scope/server`, redacted as the file holds it) and
never as a missing target.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

REDACTED = "<redacted:"  # what a redacted word of a command line holds
DEMO_MODULE = "demo_server"  # the bundled demo server, as its stdio command runs it
DEMO_TARGET = "demo"  # a proxy's recording of the bundled demo server (no --target)


def is_stdio(header: Mapping[str, Any]) -> bool:
    """Whether the recording is of a stdio server (its header says `transport: stdio`)."""
    return header.get("transport") == "stdio"


def recorded_command(header: Mapping[str, Any]) -> list[str] | None:
    """A stdio recording's command as recorded; None when the header holds none."""
    command = header.get("command")
    if not isinstance(command, list) or not command:
        return None
    return [str(word) for word in command]


def is_redacted(command: list[str]) -> bool:
    """Whether a word of `command` was replaced on recording (it cannot be run again)."""
    return any(REDACTED in word for word in command)


def target_name(header: Mapping[str, Any]) -> str:
    """How a person names the server: `stdio: COMMAND`, the target URL, or `?`."""
    if is_stdio(header):
        command = recorded_command(header)
        return f"stdio: {shlex.join(command)}" if command else "stdio: ?"
    target = header.get("target")
    return str(target) if target is not None else "?"


def is_demo(header: Mapping[str, Any]) -> bool:
    """Whether the recording is of the bundled demo server: a proxy's recording whose target
    is `demo`, or a stdio recording whose command runs the `demo_server` module (`python -m
    demo_server --stdio`) or a program of that name."""
    if is_stdio(header):
        command = recorded_command(header) or []
        for before, word in zip(["", *command], command, strict=False):
            if before == "-m" and word.split(".")[0] == DEMO_MODULE:
                return True
            if PurePath(word).name.replace("-", "_") == DEMO_MODULE:
                return True
        return False
    return header.get("target") == DEMO_TARGET

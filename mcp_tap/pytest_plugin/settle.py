"""What becomes of a recorded session once its test is over.

A recording that a passing test made replaces the old one (`once`, `all`) or adds its new
episodes to it (`new_episodes`). One made by a test that failed, or never ran its body, is
most likely of a server that misbehaved or of a test still being written: it never touches
the recording, and is kept beside it as `<name>.new` for a look, so that one bad run cannot
turn a good recording into a file of errors.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from mcp_tap.pytest_plugin.recorder import ProxySession, add_episodes, why_unwritable
from mcp_tap.serve.matching import MatchRules


@dataclass(frozen=True)
class Settled:
    """What was done with a session's recording: a line for the report, a warning, or why
    it could not be written where it goes (an error for the test)."""

    note: str | None = None
    warning: str | None = None
    error: str | None = None


def new_path(path: Path) -> Path:
    """Where the complete recording of a failed test is kept, beside the recording."""
    return path.with_name(path.name + ".new")


def settle_recording(
    session: ProxySession,
    recording: Path,
    *,
    passed: bool,
    merge: bool,
    rules: MatchRules | None = None,
) -> Settled:
    """Replace `recording` with the session's (or, with `merge`, add its new episodes to it)
    when the test passed; otherwise keep the session as `<recording>.new` and leave the
    recording as it is."""
    partial = session.path
    if session.writer.error is not None:
        return Settled(
            warning=f"the recording {partial} stopped early: {session.writer.error}; "
            + _unchanged(recording)
        )
    if session.counter.exchanges == 0:
        with contextlib.suppress(OSError):
            partial.unlink()
        return Settled(
            warning="the test sent no MCP request through the recording proxy: nothing was recorded"
        )
    aside = new_path(recording)
    try:
        if not passed:
            os.replace(partial, aside)
            return Settled(
                warning=f"the test did not pass, so this run's recording was kept at {aside}; "
                + _unchanged(recording)
            )
        if merge:
            try:
                episodes = add_episodes(recording, partial, rules)
            finally:
                partial.unlink(missing_ok=True)
            added = ", ".join(episodes.added) if episodes.added else "nothing new"
            note = f"new episodes in {recording}: {added}"
        else:
            os.replace(partial, recording)
            note = f"recorded {recording}"
        aside.unlink(missing_ok=True)  # a failed run's recording, now out of date
    except OSError as error:
        return Settled(
            error=f"cannot keep the recording of {recording}: {why_unwritable(error, aside)}"
        )
    return Settled(note=note)


def _unchanged(recording: Path) -> str:
    if recording.is_file():
        return f"{recording} is unchanged"
    return f"nothing was written at {recording} (the next recording run records it again)"

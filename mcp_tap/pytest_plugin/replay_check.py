"""`mcp_replay(url)`: replay a test's recording against a server; fail with the diff.

A failure says how to silence each difference in the words of the test, the fixture's own
arguments (`ignore=[...]`, `progress_tolerance=N`), not `mcp-tap replay`'s flags. An
`ignore` path that names no field of any result silences nothing, most likely a typo: it is
an `MCPRecordingWarning` naming the path, and the real path closest to it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mcp_tap.replay.compare import CallVerdict


@dataclass
class ReplayCheck:
    """`mcp_replay(url)`: replay the test's recording against a server, fail on a difference."""

    default_path: Path
    base: Path

    def __call__(
        self,
        url: str,
        recording: str | Path | None = None,
        *,
        ignore: Sequence[str] = (),
        progress_tolerance: int = 0,
        headers: Mapping[str, str] | None = None,
        speed: float | None = None,
        timeout: float = 30.0,
    ) -> list[CallVerdict]:
        """Replay `recording` (default: the test's) against `url`; fail with the diff.

        `speed` None sends each message as soon as the ones it waited for were answered;
        1.0 keeps the recorded gaps. Returns the verdicts when everything matched.
        """
        from mcp_tap.pytest_plugin.background import run_in_thread
        from mcp_tap.recording.reader import RecordingError, load_recording
        from mcp_tap.replay.replayer import ReplayError
        from mcp_tap.replay.run import ReplayOptions, replay
        from mcp_tap.tap.bus import TapBus

        if isinstance(ignore, str):  # one path, not its characters
            ignore = [ignore]
        path = self.base / recording if recording is not None else self.default_path
        if not path.is_file():
            pytest.fail(
                f"mcp-tap: no recording at {path} to replay; record one with the mcp_server "
                "fixture (`pytest --mcp-record-mode=once --mcp-target URL`) or `mcp-tap proxy "
                f"--target URL --record {path}`",
                pytrace=False,
            )
        options = ReplayOptions(
            target=url,
            speed=speed,
            ignore=tuple(ignore),
            headers=dict(headers or {}),
            progress_tolerance=progress_tolerance,
            timeout=timeout,
            max_diffs=None,  # a test's recording is small: keep every verdict
        )
        problem = None
        try:
            events = load_recording(path).events

            async def main() -> list[CallVerdict]:
                bus = TapBus()
                try:
                    verdicts, _ = await replay(events, options, bus)
                finally:
                    bus.close()
                return list(verdicts)

            verdicts = run_in_thread(main, name="mcp-tap-replay")
        except (RecordingError, ReplayError) as error:
            problem = str(error)
        if problem is not None:
            pytest.fail(f"mcp-tap: cannot replay {path}: {problem}", pytrace=False)
        unmatched = warn_unmatched(ignore, verdicts, path)
        if not all(v.ok for v in verdicts):
            lines = [f"mcp-tap: {url} no longer behaves as {path} recorded"]
            lines.append(render_verdicts(verdicts).rstrip("\n"))
            kept = [pattern for pattern in ignore if pattern not in unmatched]
            every = accept_all(verdicts, kept, progress_tolerance)
            if every is not None:
                lines.append(f"silence every difference above with: {every}")
            pytest.fail("\n".join(lines), pytrace=False)
        return verdicts


def fixture_arguments(hints: Sequence[str]) -> str:
    """`ignore=['result.content[0].text'], progress_tolerance=1`: a replay's hints (ignore
    paths, `--progress-tolerance N`) as `mcp_replay`'s arguments."""
    from mcp_tap.replay.compare import TOLERANCE_FLAG

    paths = [hint for hint in hints if not hint.startswith(TOLERANCE_FLAG)]
    tolerances = [int(hint.split()[-1]) for hint in hints if hint.startswith(TOLERANCE_FLAG)]
    arguments = [f"ignore={paths!r}"] if paths else []
    if tolerances:
        arguments.append(f"progress_tolerance={max(tolerances)}")
    return ", ".join(arguments)


def accept_all(
    verdicts: Sequence[CallVerdict], ignore: Sequence[str], tolerance: int
) -> str | None:
    """The one call that silences every difference, with the test's own `ignore` paths (those
    that name a field); None when it says no more than the only divergent request's hint."""
    hinted = [v for v in verdicts if any(d.ignore for d in v.divergences)]
    hints = [d.ignore for v in hinted for d in v.divergences if d.ignore]
    if not hints or (len(hinted) == 1 and not ignore and not tolerance):
        return None
    every = list(dict.fromkeys([*ignore, *hints]))
    if tolerance:
        from mcp_tap.replay.compare import TOLERANCE_FLAG

        every.append(f"{TOLERANCE_FLAG} {tolerance}")
    return f"mcp_replay(url, {fixture_arguments(every)})"


def warn_unmatched(ignore: Sequence[str], verdicts: Sequence[CallVerdict], path: Path) -> list[str]:
    """An `MCPRecordingWarning` for each ignore path that names no field of any answer;
    returns those paths."""
    from mcp_tap.pytest_plugin import MCPRecordingWarning
    from mcp_tap.replay.compare import unmatched_ignores

    unmatched = unmatched_ignores(ignore, verdicts)
    for pattern, closest in unmatched:
        text = (
            f"mcp-tap: ignore path {pattern!r} names no field of any result or error in {path} "
            "or in the server's answers, so it silences nothing"
        )
        if closest is not None:
            text += f"; did you mean {closest!r}?"
        # stacklevel: this function, ReplayCheck.__call__, then the test's own line
        warnings.warn(MCPRecordingWarning(text), stacklevel=3)
    return [pattern for pattern, _ in unmatched]


def render_verdicts(verdicts: Sequence[CallVerdict], width: int = 120) -> str:
    """The text `mcp-tap replay` prints, without colors, its hints as the fixture's arguments."""
    import io

    from rich.console import Console

    from mcp_tap.replay.report import print_verdicts

    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False)
    print_verdicts(console, verdicts, silence=fixture_arguments)
    return out.getvalue()

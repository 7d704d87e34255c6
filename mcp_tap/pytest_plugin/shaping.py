"""A test's `before_record` hook, run on its recording once the test has passed.

The recording is complete by then (`<name>.yaml.part`), so the hook sees whole interactions,
as `before_playback` does, and what it drops leaves no half of itself behind
(`serve.shaping.rewrite_recording`).
"""

from __future__ import annotations

from pathlib import Path

from mcp_tap.recording.reader import RecordingError
from mcp_tap.serve.shaping import InteractionHook, rewrite_recording


def shape_recording(path: Path, hook: InteractionHook) -> str | None:
    """Run `hook` on the recording at `path`; one line saying why it could not, else None."""
    if not path.is_file():
        return None  # nothing was recorded: settle says so
    try:
        rewrite_recording(path, hook)
    except (OSError, RecordingError) as error:
        return str(error)
    except Exception as error:  # the user's hook: named, not a traceback from the plugin
        return f"before_record raised {type(error).__name__}: {error}"
    return None

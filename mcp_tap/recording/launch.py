"""A recording file of its own for each launch of a wrapped server.

A host starts a server each time it starts (and sometimes more often), always with the same
command line, so `mcp-tap stdio --record` takes a pattern: `{name}`, `{time}` (UTC) and
`{pid}` are filled in at each launch, and a folder (an existing one, or a value ending in
`/`) stands for `FOLDER/{name}-{time}-{pid}.yaml`.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

PLACEHOLDERS = ("{name}", "{time}", "{pid}")
DEFAULT_NAME = "{name}-{time}-{pid}.yaml"


def is_launch_pattern(record: str) -> bool:
    """True when `--record` names a file per launch rather than one file."""
    return (
        any(p in record for p in PLACEHOLDERS)
        or record.endswith(("/", os.sep))
        or Path(record).is_dir()
    )


def launch_path(record: str, name: str, started: datetime, pid: int) -> Path:
    """The file of this launch: the pattern filled in (a folder gets the default name)."""
    pattern = record if any(p in record for p in PLACEHOLDERS) else str(Path(record) / DEFAULT_NAME)
    values = {
        "{name}": re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "server",
        "{time}": started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "{pid}": str(pid),
    }
    for placeholder, value in values.items():
        pattern = pattern.replace(placeholder, value)
    return Path(pattern).expanduser()

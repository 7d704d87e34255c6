"""Reading a config file as text, and writing it back safely: a timestamped backup beside it,
then a new file renamed over the old one (same mode), so a host never reads half a file.
"""

from __future__ import annotations

import difflib
import os
import shutil
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path


class FileChanged(Exception):
    """The file changed on disk between reading and writing it (its host saved it)."""


def read_text(path: Path) -> str:
    """The file's text, line endings and byte order mark kept; ValueError when not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text (byte {error.start})") from None


def backup(path: Path, now: datetime | None = None) -> Path:
    """Copy `path` (mode and times too) to `<name>.<UTC time>.mcp-tap-backup` beside it."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.{stamp}.mcp-tap-backup")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.{stamp}-{number}.mcp-tap-backup")
    shutil.copy2(path, target)
    return target


def write_atomically(path: Path, text: str, expected: str) -> None:
    """Replace `path`'s contents with `text` by renaming a new file over it, keeping its mode.

    `path` may be a symbolic link (a dotfiles folder): the file it points to is replaced.
    FileChanged when the file no longer holds `expected`, the text the edit was made from.
    """
    real = path.resolve()
    mode = stat.S_IMODE(real.stat().st_mode)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{real.name}.", dir=real.parent)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        if real.read_bytes() != expected.encode("utf-8"):
            raise FileChanged(f"{path} changed while it was being edited; run the command again")
        os.replace(temporary, real)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def unified_diff(path: Path, before: str, after: str) -> str:
    """What the edit changes, as `diff -u` would print it."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=str(path),
        tofile=str(path),
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

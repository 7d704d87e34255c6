"""How wide each part of a line is, decided from the terminal's width at the time of drawing.

A `Layout` is made for every frame (and every redraw of the bars) from `console.width`, so a
resized terminal gets lines laid out for its new size. `Layout()` (no width) is a pipe or a
file: fixed columns, nothing cut to fit, the same text whatever reads it.

Widths are counted in terminal cells (`rich.cells.cell_len`), not characters: `⟳` and `…`
take one cell, some symbols two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from rich.cells import cell_len, set_cell_size

WIDE = 100  # from here on a line has room for every column at its full width
NARROW_SESSION = 70  # below this the session column goes (the summary still names sessions)
SESSION = 9  # cells of the session column on a wide line (a narrow one gets two thirds)
PLAIN_SUMMARY = 72  # characters of params/result on a line with no terminal to fit
MIN_SUMMARY = 16  # a summary gets at least this many cells, even on a very narrow terminal


@dataclass(frozen=True)
class Layout:
    """Column widths for one frame. `width`: the terminal's cells, None for a pipe.

    `epoch`: the wall-clock time (seconds since 1970) of time 0; set, lines show the local
    time of day (`14:03:07.250`) instead of seconds since the start. `session`: cells of the
    session column on a wide line (`show --follow DIR` writes server names there).
    """

    width: int | None = None
    epoch: float | None = None
    session: int = SESSION

    # The columns are asked for on every line of a frame: each is worked out once (cached).

    @cached_property
    def narrow(self) -> bool:
        """Too narrow for every column at full width."""
        return self.width is not None and self.width < WIDE

    def time(self, seconds: float) -> str:
        """The time column: time of day, or seconds since the start (right-aligned)."""
        if self.epoch is not None:
            return datetime.fromtimestamp(self.epoch + seconds).strftime("%H:%M:%S.%f")[:-3]
        return f"{seconds:{self._seconds_format}}s"

    @cached_property
    def _seconds_format(self) -> str:
        return "7.3f" if self.narrow else "9.3f"

    @cached_property
    def session_width(self) -> int:
        """Cells of the session column; 0 when it is dropped."""
        if self.width is None or self.width >= WIDE:
            return self.session
        return self.session * 2 // 3 if self.width >= NARROW_SESSION else 0

    @cached_property
    def method_width(self) -> int:
        """Cells a method name is padded to, so that what follows lines up."""
        return 10 if self.narrow else 24

    def room(self, used: int) -> int:
        """Cells left for the free text of a line after `used` cells (72 in a pipe)."""
        if self.width is None:
            return PLAIN_SUMMARY
        return max(MIN_SUMMARY, self.width - used)

    @property
    def bar_width(self) -> int:
        """Cells of a progress bar: a fifth of the line, 8 to 40 (24 in a pipe)."""
        if self.width is None:
            return 24
        return max(8, min(40, self.width // 5))

    @property
    def label_width(self) -> int | None:
        """Cells a tool or resource name may take on a progress line (None: whole)."""
        return None if self.width is None else max(12, self.width // 4)


def crop(text: str, width: int) -> str:
    """`text` cut to `width` cells, with an ellipsis when something was cut."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    return set_cell_size(text, width - 1) + "…"


def clip_cells(text: str, width: int | None) -> str:
    """`text` on one line, cut to `width` cells (None: whole)."""
    text = " ".join(text.split())
    return text if width is None else crop(text, width)

"""The live progress bars: one per active progress token, drawn by rich below the lines.

`ProgressBars` owns a rich `Progress` with no refresh thread of its own: the console view
calls `show` and `refresh` from its frames, on the event loop, so the tracker's statistics
are never read while they change.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID
from rich.text import Text

from mcp_tap.analysis.progress_stats import ProgressStats
from mcp_tap.view.format import clip, number, seconds, token_badge

MAX_BARS = 8  # more active streams than this share one "… N more" row


class _Bar(ProgressColumn):
    """rich's bar (a pulse when there is no total), except on the overflow row: no bar."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.bar = BarColumn(bar_width=width)

    def render(self, task: Task) -> RenderableType:
        return Text("") if task.fields.get("overflow") else self.bar.render(task)


class _TextField(ProgressColumn):
    """Shows a Text computed from the stream's statistics and stored in the task's fields."""

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def render(self, task: Task) -> Text:
        value = task.fields.get(self.field)
        return value if isinstance(value, Text) else Text(str(value or ""))


class ProgressBars:
    """The bars of the active progress streams, started on first use."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._tasks: dict[int, TaskID] = {}  # id(stats) -> its bar
        self._overflow: TaskID | None = None  # the "… N more streams" row

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def show(self, streams: list[ProgressStats]) -> None:
        """Bring the bars of `streams` (the active ones, oldest first) up to date."""
        for stats in streams[:MAX_BARS]:
            self._show(stats)
        self._show_overflow(len(streams) - MAX_BARS)

    def remove(self, stats: ProgressStats) -> None:
        """Take a finished stream's bar away (its summary line replaces it)."""
        task = self._tasks.pop(id(stats), None)
        if task is not None and self._progress is not None:
            self._progress.remove_task(task)

    def refresh(self) -> None:
        """Redraw the bars (printing lines through the console redraws them too)."""
        if self._progress is not None:
            self._progress.refresh()

    def stop(self) -> None:
        """Remove every bar and give the terminal back."""
        if self._progress is None:
            return
        for task in self._progress.task_ids:
            self._progress.remove_task(task)
        self._tasks.clear()
        self._overflow = None
        self._progress.stop()
        self._progress = None

    def _started(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(
                _TextField("head"),
                _Bar(28),
                _TextField("numbers"),
                console=self.console,
                auto_refresh=False,  # the view's frames refresh it: no render thread
                redirect_stdout=False,  # no global side effects; everything goes via the console
                redirect_stderr=False,
            )
            self._progress.start()
        return self._progress

    def _show(self, stats: ProgressStats) -> None:
        progress = self._started()
        fields = bar_fields(stats)
        total = stats.total if stats.total is not None and stats.total > 0 else None
        done = stats.last_progress or 0.0
        done = min(done, total) if total is not None else done
        task = self._tasks.get(id(stats))
        if task is None:
            task = self._tasks[id(stats)] = progress.add_task("", total=total, **fields)
        progress.update(task, total=total, completed=done, **fields)

    def _show_overflow(self, hidden: int) -> None:
        if self._progress is None:
            return
        if hidden <= 0:
            if self._overflow is not None:
                self._progress.remove_task(self._overflow)
                self._overflow = None
            return
        head = Text(f"… {hidden} more active progress stream{'s' if hidden > 1 else ''}", "dim")
        if self._overflow is None:
            self._overflow = self._progress.add_task("", total=None, head=head, overflow=True)
        self._progress.update(self._overflow, head=head)


def bar_fields(stats: ProgressStats) -> dict[str, Any]:
    """The texts around a bar: token, tool and message; percent, rate, ETA and updates."""
    name = (f" {clip(stats.label or stats.method, 24)} ", "bold")
    head = Text.assemble(token_badge(stats.token, False), name)
    if stats.message:
        head.append(clip(stats.message, 36), style="italic")
    numbers = Text()
    if stats.fraction is not None:
        numbers.append(f"{stats.fraction:>4.0%} ", style="bold")
        numbers.append(f"{number(stats.last_progress)}/{number(stats.total)}")
    else:
        numbers.append(number(stats.last_progress) if stats.count else "waiting", style="bold")
    if stats.rate:
        numbers.append(f"  {stats.rate:.3g}/s", style="cyan")
    if stats.eta is not None:
        numbers.append(f"  ETA {seconds(stats.eta)}", style="cyan")
    numbers.append(f"  {stats.count} upd", style="dim")
    return {"head": head, "numbers": numbers}

"""`--jsonl`: one JSON object per tap event on a stream, for pipes and other programs."""

from __future__ import annotations

from typing import TextIO

from mcp_tap.protocol.codec import event_to_json
from mcp_tap.protocol.events import TapEvent
from mcp_tap.protocol.redaction import Redactor
from mcp_tap.view.frames import FramePacer
from mcp_tap.view.output import ViewOutput

DEFAULT_FPS = 12.0


class JsonLinesView:
    """Tap subscriber writing one JSON object per event (`codec.event_to_dict`), for pipes.

    Like the console view it only queues in `handle` and writes in frames, through a
    `ViewOutput`, so a consumer that stops reading never stalls the proxy.
    """

    def __init__(
        self, out: TextIO, fps: float = DEFAULT_FPS, redact: Redactor | None = None
    ) -> None:
        """`redact`: what each event goes through before it is written (secrets out)."""
        self.out = ViewOutput(out)
        self.redact = redact or Redactor(sessions=False)
        self._queue: list[TapEvent] = []
        self._pacer = FramePacer(self.flush, 1.0 / fps)

    def handle(self, event: TapEvent) -> None:
        """Queue the event for the next write."""
        self._queue.append(event)
        if not self._pacer.pending:
            self._pacer.poke()

    def flush(self) -> None:
        """Write every queued event, one line each."""
        batch, self._queue = self._queue, []
        if batch and not self.out.broken:  # broken: the reader left; forwarding goes on
            redact = self.redact
            self.out.write("".join(event_to_json(redact(e)) + "\n" for e in batch))

    def close(self) -> None:
        """Write what is left."""
        self._pacer.cancel()
        self.flush()
        self.out.close()

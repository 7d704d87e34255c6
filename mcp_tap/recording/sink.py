"""`DocumentSink`: events redacted, written as YAML documents and appended to the file.

This is the writing half of the recorder, run by its writer process (or, where there is
none, its writer thread): each batch is redacted, serialised by `yaml_emit` (the parts that
repeat verbatim, a tools/list result, a client's headers, written once and their YAML
reused: `yaml_emit.Memo`) and written with one `os.write` on an unbuffered descriptor, so
once a batch is written it sits in the kernel and survives `kill -9` of the process. Each
document ends with `...`, which lets the reader tell a complete last event from a cut one.

The file is opened for appending, and truncated under the writer (`logrotate`'s
`copytruncate` copies a file, then empties it) it goes on at its new end: no hole of NUL
bytes where the old text was. The sink notices the file shrank, and writes the header
again before what follows, with the `exchange-opened` of every exchange still open: the
emptied file is a recording of its own, readable by `mcp-tap show`, from the truncation on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from mcp_tap.protocol.codec import event_to_dict
from mcp_tap.protocol.events import ExchangeClosed, ExchangeOpened, Fault, MessageKind, TapEvent
from mcp_tap.protocol.redaction import RedactionRules, Redactor
from mcp_tap.recording.records import (
    CHANGING_PARAMS,
    EXCHANGE_RECORDS,
    MESSAGE_SEEN,
    REPEATING_PARTS,
    from_record,
)
from mcp_tap.recording.yaml_emit import Memo, Reusable, append_mapping, emit_document, scalar

# Messages whose redaction looks into their text or payload: they take the events' path.
_REDACTED_KINDS = frozenset({MessageKind.INVALID.value, MessageKind.ENDPOINT.value})

log = logging.getLogger(__name__)


class DocumentSink:
    """Writes batches of events to the open file `fd` (which it owns), after `header`."""

    def __init__(self, fd: int, path: Path, header: bytes, rules: RedactionRules | None) -> None:
        """Write `header` at once; raises OSError when the file refuses it."""
        self.fd = fd
        self.path = path
        self.error: OSError | None = None  # set when the disk refused a write
        self._header = header
        self._redact = Redactor(rules) if rules is not None else None
        self._memo = Memo()
        # an exchange's headers, kept apart: a server's vary with the body's length, and they
        # must not push a tools/list result out
        self._headers_memo = Memo()
        # What a file truncated under us needs first: where our last write ended, and the
        # opening document of each exchange still open.
        self._end = 0
        self._open: dict[int, str] = {}
        self._changes: list[tuple[int, str | None]] = []  # exchanges a batch opens, closes
        self._append(header)

    def write_batch(self, batch: list[TapEvent], pause: Callable[[], None] | None = None) -> None:
        """Write `batch` in one write; `pause`, if given, is called between documents (a
        thread's chance to hand the GIL back)."""
        if self.error is not None:
            return
        documents = []
        self._changes = []
        for event in batch:
            documents.append(self._document(event))
            if pause is not None:
                pause()
        self._write_documents(documents)

    def write_records(self, records: list[tuple[Any, ...]]) -> None:
        """Write the events of `records` (`records.to_record`) in one write, as `write_batch`
        writes the events themselves: the same bytes.

        Most records are JSON-RPC messages, and their document is built from the record
        itself: rebuilding the event, redacting a copy of it and taking it apart again cost
        twice the YAML. Only their session id needs redacting (field rules aside). So are an
        exchange's opening, response head and close (plain values, headers to redact); the
        rest (faults, findings) take the events' path.
        """
        if self.error is not None:
            return
        self._changes = []
        documents = []
        for record in records:
            number = record[0]
            if number == MESSAGE_SEEN:
                document = self._message_document(record)
            elif number in EXCHANGE_RECORDS:
                document = self._exchange_document(record)
            else:
                document = None
            documents.append(document or self._document(from_record(record)))
        self._write_documents(documents)

    def _write_documents(self, documents: list[str]) -> None:
        if documents:
            self._write("".join(documents).encode("utf-8"))
        for exchange_id, opening in self._changes:
            if opening is None:
                self._open.pop(exchange_id, None)
            else:
                self._open[exchange_id] = opening

    def _document(self, event: TapEvent) -> str:
        try:
            if self._redact is not None:
                event = self._redact(event)
            document = emit_document(self._prepare(event_to_dict(event)))
            if isinstance(event, ExchangeOpened):
                self._changes.append((event.exchange_id, document))
            elif isinstance(event, ExchangeClosed):
                self._changes.append((event.exchange_id, None))
            return document
        except Exception as error:  # one odd event must cost one document, not the recording
            log.warning("could not record %r: %s", type(event).__name__, error)
            exchange_id = getattr(event, "exchange_id", None)
            fault = Fault(event.time, exchange_id, "recording-error", f"not recorded: {error}")
            return emit_document(event_to_dict(fault))

    def _message_document(self, record: tuple[Any, ...]) -> str | None:
        """The document of a MessageSeen record, or None: then the event's path writes it
        (messages whose redaction reads their text, field rules, anything odd). Its lines
        are `event_to_dict`'s keys in its order, written as `emit_document` writes them."""
        _, exchange_id, time, direction, stream, session_id, message, sse_id, sse_event = record
        kind, payload, raw, method, _, _, _, _, batch_index, problem = message
        redact = self._redact
        if raw is not None or kind in _REDACTED_KINDS or (redact and redact.rules.fields):
            return None
        if type(payload) is not dict or not payload:
            return None
        lines = ["---", "type: message"]
        try:
            if exchange_id is not None:
                lines.append(f"exchange_id: {scalar(exchange_id)}")
            lines.append(f"time: {scalar(round(time, 6) if type(time) is float else time)}")
            lines.append(f"direction: {scalar(direction)}")
            lines.append(f"stream: {scalar(stream)}")
            if session_id is not None:
                shown = redact.session(session_id) if redact else session_id
                lines.append(f"session_id: {scalar(shown)}")
            lines.append("message:")
            lines.append(f"  kind: {scalar(kind)}")
            lines.append("  json:")
            append_mapping(self._reusable_parts(payload, method), "    ", lines)
            if batch_index is not None:
                lines.append(f"  batch_index: {scalar(batch_index)}")
            if problem is not None:
                lines.append(f"  problem: {scalar(problem)}")
            if sse_id is not None:
                lines.append(f"sse_id: {scalar(sse_id)}")
            if sse_event is not None:
                lines.append(f"sse_event: {scalar(sse_event)}")
        except Exception:  # a value YAML cannot hold: the event's path records the fault
            return None
        lines.append("...\n")
        return "\n".join(lines)

    def _exchange_document(self, record: tuple[Any, ...]) -> str | None:
        """The document of an exchange's opening, response head or close, from its record:
        what redacting its event and writing it (`Redactor`, `event_to_dict`,
        `emit_document`) give, its plain fields written line by line, its headers by the
        memo (one client's or server's are much the same from one exchange to the next)."""
        type_name, names = EXCHANGE_RECORDS[record[0]]
        data = dict(zip(names, record[1:], strict=True))
        redact = self._redact
        if redact is not None:  # in the order the redactor takes them: pseudonyms are numbered
            if data.get("headers") is not None:
                data["headers"] = redact.headers(data["headers"])
            target = data.get("target")
            if target is not None and ("?" in target or "@" in target):
                data["target"] = redact.target(target)
            if data.get("session_id") is not None:
                data["session_id"] = redact.session(data["session_id"])
        lines = ["---", f"type: {type_name}"]
        try:
            for name, value in data.items():
                if value is None:
                    continue
                if name == "headers":  # pairs of strings: their JSON names them exactly
                    self._headers_memo.entry("headers:", orjson.dumps(value), "  ", lines)
                elif name == "time" and type(value) is float:
                    lines.append(f"time: {scalar(round(value, 6))}")
                else:
                    lines.append(f"{name}: {scalar(value)}")
        except Exception:  # a value YAML cannot hold: the event's path records the fault
            return None
        lines.append("...\n")
        document = "\n".join(lines)
        if type_name == "exchange-opened":
            self._changes.append((data["exchange_id"], document))
        elif type_name == "exchange-closed":
            self._changes.append((data["exchange_id"], None))
        return document

    def _reusable_parts(self, payload: Any, method: str | None) -> Any:
        """A message's payload with the parts that tend to repeat verbatim marked: a result,
        params or error (whose id alone changes from one tools/list to the next). A progress
        notification's params change every time: looking them up would only cost."""
        if type(payload) is not dict:
            return payload
        payload = dict(payload)  # a copy: the event's own is shared
        for key in REPEATING_PARTS:
            if key in payload and not (key == "params" and method == CHANGING_PARAMS):
                payload[key] = Reusable(payload[key], self._memo)
        return payload

    def _prepare(self, data: dict[str, Any]) -> dict[str, Any]:
        """Round the time to microseconds (finer is noise, and longer to read), and mark the
        parts of an event that tend to repeat verbatim: headers, and a message's result,
        params or error (whose id alone changes from one tools/list to the next)."""
        if isinstance(data.get("time"), float):
            data["time"] = round(data["time"], 6)
        if "headers" in data:
            data["headers"] = Reusable(data["headers"], self._memo)
        message = data.get("message")
        if message is not None and "json" in message:
            method = message["json"].get("method") if type(message["json"]) is dict else None
            message["json"] = self._reusable_parts(message["json"], method)
        return data

    def _write(self, data: bytes) -> None:
        try:
            if os.fstat(self.fd).st_size < self._end:  # emptied since our last write
                data = self._restart() + data
            self._append(data)
        except OSError as error:  # e.g. a full disk: stop writing, keep the proxy running
            log.error("recording to %s stopped: %s", self.path, error)
            self.error = error

    def _restart(self) -> bytes:
        """What a truncated file needs before the next events: a note, the header and the
        exchanges still open (a truncation between the size check and the write is missed:
        that batch then starts the file, and `show` refuses it)."""
        log.warning("%s was truncated while recorded: the header is written again", self.path)
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        note = f"# truncated while recorded, at {when}: the header again, then open exchanges\n"
        return note.encode() + self._header + "".join(self._open.values()).encode("utf-8")

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]  # os.write may write less than asked
        # With O_APPEND each write first moves the offset to the end of the file: after it,
        # the offset is where our text ends, whatever else has happened to the file.
        self._end = os.lseek(self.fd, 0, os.SEEK_CUR)


def yielder(slice_seconds: float) -> Callable[[], None]:
    """A `pause` for `write_batch` that lets go of the GIL after every `slice_seconds` of work."""
    pause_at = time.perf_counter() + slice_seconds

    def pause() -> None:
        nonlocal pause_at
        if time.perf_counter() >= pause_at:
            time.sleep(0)  # the event loop, if it waits for the GIL, takes it now
            pause_at = time.perf_counter() + slice_seconds

    return pause

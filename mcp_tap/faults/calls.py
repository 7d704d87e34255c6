"""`CallBook`: which call each message of one session belongs to, for a carrier with no
exchange to say so (stdio: every message shares two pipes).

A client's request opens a call (by its id, and by its progress token if it has one); the
server's progress notifications are counted on it, and its response closes it.
"""

from __future__ import annotations

from typing import Any

from mcp_tap.faults.plan import MessageContext, is_progress, progress_token_of
from mcp_tap.protocol.events import Direction, MessageKind, RpcMessage


class CallBook:
    """The open calls of one session, and their progress counts."""

    def __init__(self, session_id: str | None = None) -> None:
        self.session_id = session_id
        self._by_id: dict[Any, RpcMessage] = {}
        self._by_token: dict[Any, RpcMessage] = {}
        self._progress: dict[Any, int] = {}  # request id -> notifications seen
        self.last_call: RpcMessage | None = None  # the call of the last message looked at

    def context(self, message: RpcMessage, direction: Direction) -> MessageContext:
        """The context of `message`, and the book updated for what follows it."""
        if direction is Direction.CLIENT_TO_SERVER:
            if message.kind is MessageKind.REQUEST:
                key = _key(message.id)
                self._by_id[key] = message
                if message.has_progress_token:
                    self._by_token[_key(message.progress_token)] = message
            self.last_call = message
            return MessageContext(direction, self.session_id, message)
        call: RpcMessage | None = None
        if message.kind in (MessageKind.RESPONSE, MessageKind.ERROR):
            call = self._by_id.pop(_key(message.id), None)
            if call is not None and call.has_progress_token:
                self._by_token.pop(_key(call.progress_token), None)
        elif is_progress(message):
            call = self._by_token.get(_key(progress_token_of(message)))
        seen = self._progress.get(_key(call.id), 0) if call is not None else 0
        if call is not None:
            if is_progress(message):
                self._progress[_key(call.id)] = seen + 1
            elif message.kind in (MessageKind.RESPONSE, MessageKind.ERROR):
                self._progress.pop(_key(call.id), None)
        self.last_call = call
        return MessageContext(direction, self.session_id, call, seen)


def _key(value: Any) -> Any:
    """ "1" and 1 are different ids; a token may be any JSON value (unhashable ones too)."""
    return (type(value).__name__, repr(value))

"""What the mock makes of one client body or line: a message to serve, or the error it gets.

The same on every carrier (Streamable HTTP, the 2024-11-05 SSE transport, stdio), as JSON-RPC
2.0 says: text that is not JSON gets a Parse error (-32700); JSON that is not a message, and a
request whose id is neither a string nor an integer (MCP's rule: an object, a float, `1.5e400`,
`true` or null), get Invalid Request (-32600) with id null. Batches (MCP 2025-03-26 only) are
not served: a batch, even of one message, gets an array back holding one Invalid Request per
request in it (with that request's id) and per element that is no message; notifications and
responses in it need no answer, so a batch of only those gets nothing back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp_tap.protocol.events import MessageKind, RpcMessage
from mcp_tap.protocol.jsonrpc import classify_text
from mcp_tap.serve.wire import INVALID_REQUEST, PARSE_ERROR, dumps

BATCH_REFUSED = "mcp-tap serve: JSON-RPC batches are not served (they are MCP 2025-03-26 only)"
BAD_ID = "mcp-tap serve: a request id must be a string or an integer"


@dataclass(frozen=True)
class Refused:
    """The answer to a body the mock does not serve; `payload` None: nothing to answer."""

    payload: bytes | None
    batch: bool  # the body was a batch (its answer is an array)


def read_message(body: bytes) -> RpcMessage | Refused:
    """The one message in `body` to serve, or what to answer instead."""
    messages = classify_text(body)
    first = messages[0]
    if first.batch_index is not None:
        errors = [
            _error(_answer_id(m), INVALID_REQUEST, BATCH_REFUSED) for m in messages if _answered(m)
        ]
        return Refused(dumps(errors) if errors else None, batch=True)
    if first.kind is MessageKind.INVALID:
        if first.raw is not None:
            return _refused(PARSE_ERROR, f"mcp-tap serve: {first.problem}")
        return _refused(INVALID_REQUEST, f"mcp-tap serve: {first.problem or 'invalid JSON-RPC'}")
    if first.kind is MessageKind.REQUEST and not _valid_id(first.payload.get("id")):
        return _refused(INVALID_REQUEST, BAD_ID)
    return first


def _answered(message: RpcMessage) -> bool:
    """Whether a batch element wants an answer: a request, or something that is no message."""
    return message.kind in (MessageKind.REQUEST, MessageKind.INVALID)


def _answer_id(message: RpcMessage) -> str | int | None:
    if message.kind is MessageKind.REQUEST and _valid_id(message.payload.get("id")):
        return message.id
    return None


def _valid_id(value: Any) -> bool:
    # bool is an int to Python, never an id; a float (1.5e400 reads as inf) is not one either.
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _error(request_id: str | int | None, code: int, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": text}}


def _refused(code: int, text: str) -> Refused:
    return Refused(dumps(_error(None, code, text)), batch=False)

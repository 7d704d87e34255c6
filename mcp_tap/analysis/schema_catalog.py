"""The official MCP schemas, one a revision, and which of their definitions judges a message.

The data files in `schemas/` are the `schema/<revision>/schema.json` files of the
specification's repository (see `schemas/README.md` for the commit and the license). Nothing
here validates: this module only reads a revision's schema and answers "which definition is
this message checked against", from the schema itself wherever it can: a request or a
notification by the `method` constant of the definitions its revision's `ClientRequest`,
`ServerRequest`, `ClientNotification` and `ServerNotification` unions list, a result by the
name of the request it answers (`CallToolRequest` -> `CallToolResult`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_tap.protocol.events import Direction, MessageKind

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
KNOWN_REVISIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")
NEWEST_REVISION = KNOWN_REVISIONS[-1]

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# Embedded schemas (a tool's inputSchema and outputSchema) default to 2020-12 from 2025-11-25
# on (SEP-1613, basic/index "JSON Schema Usage"); earlier revisions name no dialect, so the
# dialect of their own schema.json, draft-07, is the one a tool can be expected to follow.
EMBEDDED_DIALECT_SINCE = "2025-11-25"

_UNIONS = {
    (MessageKind.REQUEST, Direction.CLIENT_TO_SERVER): "ClientRequest",
    (MessageKind.REQUEST, Direction.SERVER_TO_CLIENT): "ServerRequest",
    (MessageKind.NOTIFICATION, Direction.CLIENT_TO_SERVER): "ClientNotification",
    (MessageKind.NOTIFICATION, Direction.SERVER_TO_CLIENT): "ServerNotification",
}
_ENVELOPES = {
    MessageKind.REQUEST: ("JSONRPCRequest",),
    MessageKind.NOTIFICATION: ("JSONRPCNotification",),
    # 2025-11-25 renamed the success and error envelopes
    MessageKind.RESPONSE: ("JSONRPCResultResponse", "JSONRPCResponse"),
    MessageKind.ERROR: ("JSONRPCErrorResponse", "JSONRPCError"),
}


@dataclass(frozen=True)
class RevisionSchema:
    """One revision's schema document and the method-to-definition maps read from it."""

    revision: str
    document: dict[str, Any]
    defs_key: str  # "definitions" (draft-07 revisions) or "$defs" (2020-12 revisions)
    # (kind, direction) -> method -> definition name
    methods: dict[tuple[MessageKind, Direction], dict[str, str]] = field(default_factory=dict)
    envelopes: dict[MessageKind, str] = field(default_factory=dict, compare=False)

    @property
    def definitions(self) -> dict[str, Any]:
        """Every definition of the revision, by name."""
        defs: dict[str, Any] = self.document[self.defs_key]
        return defs

    @property
    def dialect(self) -> str:
        """The JSON Schema dialect the schema document itself is written in."""
        return str(self.document.get("$schema", DRAFT_07))

    @property
    def embedded_dialect(self) -> str:
        """The dialect of a tool's schemas that do not name one with `$schema`."""
        return DRAFT_2020_12 if self.revision >= EMBEDDED_DIALECT_SINCE else DRAFT_07

    def envelope(self, kind: MessageKind) -> str:
        """The JSON-RPC definition a message of this kind must match as a whole."""
        found = self.envelopes.get(kind)
        if found is None:  # once a kind: every message asks
            found = next(name for name in _ENVELOPES[kind] if name in self.definitions)
            self.envelopes[kind] = found
        return found

    def message_definition(
        self, kind: MessageKind, direction: Direction, method: str
    ) -> str | None:
        """The definition of a request or notification, None for a method it does not name.

        The sender's own union first; then the other side's, so that a method sent the wrong
        way is still checked for its shape (who may send what is a lifecycle question).
        """
        mine = self.methods.get((kind, direction), {})
        if method in mine:
            return mine[method]
        other = Direction.SERVER_TO_CLIENT
        if direction is Direction.SERVER_TO_CLIENT:
            other = Direction.CLIENT_TO_SERVER
        return self.methods.get((kind, other), {}).get(method)

    def result_definition(self, request_method: str, request_params: Any, result: Any) -> str:
        """The definition a result must match, from the request that it answers."""
        defs = self.definitions
        if isinstance(result, dict):
            # 2026-07-28: `resultType: input_required` replaces the method's own result
            if result.get("resultType") == "input_required" and "InputRequiredResult" in defs:
                return "InputRequiredResult"
            # 2025-11-25: a task-augmented request is answered with the task it started
            if isinstance(request_params, dict) and "task" in request_params:
                if "CreateTaskResult" in defs:
                    return "CreateTaskResult"
        request = self.message_definition(
            MessageKind.REQUEST, Direction.CLIENT_TO_SERVER, request_method
        )
        if request is not None and request.endswith("Request"):
            name = request.removesuffix("Request") + "Result"
            if name in defs:
                return name
        return "EmptyResult" if "EmptyResult" in defs else "Result"

    def ref(self, name: str) -> str:
        """The JSON pointer of a definition inside the document."""
        return f"#/{self.defs_key}/{name}"


def _union_members(defs: dict[str, Any], union: str, defs_key: str) -> list[str]:
    """The definition names a union lists (a union of one is the definition itself)."""
    schema = defs.get(union)
    if schema is None:
        return []
    branches = schema.get("anyOf") or schema.get("oneOf") or [schema]
    prefix = f"#/{defs_key}/"
    names = []
    for branch in branches:
        ref = branch.get("$ref", "")
        names.append(ref[len(prefix) :] if ref.startswith(prefix) else union)
    return names


@functools.cache
def load_revision(revision: str) -> RevisionSchema:
    """A known revision's schema, read once a process (`KeyError` for an unknown one)."""
    if revision not in KNOWN_REVISIONS:
        raise KeyError(revision)
    document = json.loads((SCHEMA_DIR / f"{revision}.json").read_text(encoding="utf-8"))
    defs_key = "$defs" if "$defs" in document else "definitions"
    defs = document[defs_key]
    methods: dict[tuple[MessageKind, Direction], dict[str, str]] = {}
    for key, union in _UNIONS.items():
        table = methods[key] = {}
        for name in _union_members(defs, union, defs_key):
            const = defs[name].get("properties", {}).get("method", {}).get("const")
            if isinstance(const, str):
                table[const] = name
    return RevisionSchema(revision, document, defs_key, methods)


def schema_revision(revision: str) -> str:
    """The known revision a negotiated one is judged by: itself, or the newest known."""
    return revision if revision in KNOWN_REVISIONS else NEWEST_REVISION

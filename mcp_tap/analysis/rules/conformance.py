"""The rules of conformance: each message to its revision's schema, each tool to its own,
the handshake and capabilities, ids, and what 2026-07-28 adds.

Raised by `analysis/schema_checks.py`, `tool_checks.py`, `lifecycle.py`, `id_checks.py` and
`modern_checks.py`.
"""

from __future__ import annotations

from mcp_tap.analysis.rules.base import (
    JSON_SCHEMA_USAGE,
    LIFECYCLE,
    MODERN_HTTP,
    MODERN_SPEC,
    MRTR,
    SCHEMA,
    SPEC,
    TOOLS,
    VERSIONING,
    Rule,
)
from mcp_tap.protocol.events import Severity

# Every message against its revision's schema (analysis/schema_checks.py), and each tool
# against the schemas it declares (analysis/tool_checks.py).
SCHEMA_VIOLATION = Rule(
    "schema-violation",
    Severity.ERROR,
    "a message does not match its definition in the schema of the revision it speaks",
    SCHEMA,
)
SCHEMA_REVISION_UNKNOWN = Rule(
    "schema-revision-unknown",
    Severity.INFO,
    "a revision mcp-tap has no schema for: its messages are judged by the newest one known",
    SCHEMA,
)
TOOL_SCHEMA_INVALID = Rule(
    "tool-schema-invalid",
    Severity.ERROR,
    "a tool's inputSchema or outputSchema is not valid JSON Schema of its dialect",
    JSON_SCHEMA_USAGE,
)
TOOL_ARGUMENTS_INVALID = Rule(
    "tool-arguments-invalid",
    Severity.WARNING,
    "tools/call arguments that do not match the tool's inputSchema",
    f"{TOOLS}#calling-tools",
)
TOOL_STRUCTURED_CONTENT_MISSING = Rule(
    "tool-structured-content-missing",
    Severity.ERROR,
    "a tool declares an outputSchema but its result has no structuredContent",
    f"{TOOLS}#output-schema",
)
TOOL_STRUCTURED_CONTENT_INVALID = Rule(
    "tool-structured-content-invalid",
    Severity.ERROR,
    "structuredContent that does not match the tool's outputSchema",
    f"{TOOLS}#output-schema",
)

# The handshake and capabilities (analysis/lifecycle.py; warnings in 2024-11-05, which says
# SHOULD), ids (analysis/id_checks.py) and what 2026-07-28 adds (analysis/modern_checks.py).
REQUEST_BEFORE_INITIALIZED = Rule(
    "request-before-initialized",
    Severity.WARNING,
    "a request other than ping before the initialize result (client) or before "
    "notifications/initialized (server, which may also log)",
    f"{LIFECYCLE}#initialization",
)
CLIENT_CAPABILITY_UNDECLARED = Rule(
    "client-capability-undeclared",
    Severity.ERROR,
    "the server asked for sampling, elicitation or roots the client did not declare",
    f"{LIFECYCLE}#capability-negotiation",
)
SERVER_CAPABILITY_UNDECLARED = Rule(
    "server-capability-undeclared",
    Severity.ERROR,
    "a method of a server capability the server did not declare (tools/call without "
    "`tools`, list_changed without `listChanged`, logging without `logging`)",
    f"{LIFECYCLE}#capability-negotiation",
)
RESOURCE_NOT_SUBSCRIBED = Rule(
    "resource-not-subscribed",
    Severity.WARNING,
    "notifications/resources/updated for a URI the client never subscribed to",
    f"{SPEC}/server/resources#subscriptions",
)
RESPONSE_UNKNOWN_ID = Rule(
    "response-unknown-id",
    Severity.ERROR,
    "a response whose id no request of the other side carries",
    f"{SPEC}/basic#responses",
)
RESPONSE_DUPLICATE = Rule(
    "response-duplicate",
    Severity.ERROR,
    "a second response to one request",
    f"{SPEC}/basic#responses",
)
REQUEST_ID_REUSED = Rule(
    "request-id-reused",
    Severity.ERROR,
    "a request reuses an id its sender already used in the session (2026-07-28: one "
    "still waiting for its response)",
    f"{SPEC}/basic#requests",
)
PROTOCOL_VERSION_MISMATCH = Rule(
    "protocol-version-mismatch",
    Severity.WARNING,
    "a request's MCP-Protocol-Version header is not the version its session negotiated",
    f"{SPEC}/basic/transports#protocol-version-header",
)
VERSION_NOT_OFFERED = Rule(
    "version-not-offered",
    Severity.WARNING,
    "the server answered a newer version than the client offered and the client went on: "
    "its offer was not its latest, or it kept a version it does not support",
    VERSIONING,
)
RESULT_TYPE_UNKNOWN = Rule(
    "result-type-unknown",
    Severity.WARNING,
    'a resultType other than "complete" or "input_required": clients MUST treat it as '
    "invalid unless an extension both sides declared defines it",
    f"{MODERN_SPEC}/basic#resulttype",
)
INPUT_REQUIRED_INVALID = Rule(
    "input-required-invalid",
    Severity.ERROR,
    "an input_required result answering a method other than tools/call, prompts/get or "
    "resources/read, or holding neither inputRequests nor requestState",
    f"{MRTR}#server-requirements-basic-workflow",
)
INPUT_RETRY_INVALID = Rule(
    "input-retry-invalid",
    Severity.ERROR,
    "an input_required retry that keeps its id, alters requestState or skips an inputRequest",
    f"{MRTR}#client-requirements-basic-workflow",
)
CACHE_SCOPE_INCONSISTENT = Rule(
    "cache-scope-inconsistent",
    Severity.ERROR,
    "pages of one list answered with different cacheScope values",
    f"{MODERN_SPEC}/server/utilities/caching#interaction-with-pagination",
)
SESSION_ID_STATELESS = Rule(
    "session-id-stateless",
    Severity.WARNING,
    "an Mcp-Session-Id header in a 2026-07-28 exchange: the revision has no sessions",
    f"{MODERN_HTTP}#earlier-streamable-http-revisions",
)
HEADER_MISMATCH = Rule(
    "header-mismatch",
    Severity.ERROR,
    "a 2026-07-28 POST whose MCP-Protocol-Version, Mcp-Method, Mcp-Name or Mcp-Param-* "
    "header is missing or says other than its body (servers answer -32020)",
    f"{MODERN_HTTP}#server-validation",
)
LOG_WITHOUT_LEVEL = Rule(
    "log-without-level",
    Severity.ERROR,
    "a 2026-07-28 notifications/message for a request whose _meta set no logLevel",
    f"{MODERN_SPEC}/server/utilities/logging#per-request-log-level",
)

RULES: tuple[Rule, ...] = (
    SCHEMA_VIOLATION,
    SCHEMA_REVISION_UNKNOWN,
    TOOL_SCHEMA_INVALID,
    TOOL_ARGUMENTS_INVALID,
    TOOL_STRUCTURED_CONTENT_MISSING,
    TOOL_STRUCTURED_CONTENT_INVALID,
    REQUEST_BEFORE_INITIALIZED,
    CLIENT_CAPABILITY_UNDECLARED,
    SERVER_CAPABILITY_UNDECLARED,
    RESOURCE_NOT_SUBSCRIBED,
    RESPONSE_UNKNOWN_ID,
    RESPONSE_DUPLICATE,
    REQUEST_ID_REUSED,
    PROTOCOL_VERSION_MISMATCH,
    VERSION_NOT_OFFERED,
    RESULT_TYPE_UNKNOWN,
    INPUT_REQUIRED_INVALID,
    INPUT_RETRY_INVALID,
    CACHE_SCOPE_INCONSISTENT,
    SESSION_ID_STATELESS,
    HEADER_MISMATCH,
    LOG_WITHOUT_LEVEL,
)

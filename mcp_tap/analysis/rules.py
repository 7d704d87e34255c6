"""The one registry of rules every checker raises, each named by a stable slug.

Each rule has a severity, a one-line summary and a link to where the specification says so;
`mcp-tap check --list-rules` prints them, and `--rule`/`--skip-rule` take their slugs.

A `Finding` carries the slug in `rule`; recordings, `--jsonl` consumers and tests match on it,
so a slug never changes once published. The severity here is the usual one; the tracker
lowers or raises it where a revision makes the same observation more or less serious.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_tap.protocol.events import Severity


@dataclass(frozen=True, slots=True)
class Rule:
    """One protocol rule or observation."""

    slug: str
    severity: Severity
    summary: str  # one line for people: what was seen and why it matters
    spec: str = ""  # where the specification says so


SPEC = "https://modelcontextprotocol.io/specification/2025-11-25"
PROGRESS = f"{SPEC}/basic/utilities/progress"
CANCELLATION = f"{SPEC}/basic/utilities/cancellation"
TRANSPORTS = f"{SPEC}/basic/transports"
MESSAGES = f"{SPEC}/basic#messages"
VERSIONING = f"{SPEC}/basic/lifecycle#version-negotiation"
AUTHORIZATION = f"{SPEC}/basic/authorization"
SCHEMA = "https://github.com/modelcontextprotocol/modelcontextprotocol/tree/main/schema"
JSON_SCHEMA_USAGE = f"{SPEC}/basic#json-schema-usage"
TOOLS = f"{SPEC}/server/tools"
LIFECYCLE = f"{SPEC}/basic/lifecycle"
MODERN_SPEC = "https://modelcontextprotocol.io/specification/2026-07-28"
MRTR = f"{MODERN_SPEC}/basic/patterns/mrtr"
MODERN_HTTP = f"{MODERN_SPEC}/basic/transports/streamable-http"


PROGRESS_NOT_INCREASING = Rule(
    "progress-not-increasing",
    Severity.ERROR,
    "progress did not increase; it MUST increase with each notification",
    PROGRESS,
)
PROGRESS_AFTER_COMPLETION = Rule(
    "progress-after-completion",
    Severity.ERROR,
    "progress arrived after its request completed; notifications MUST stop",
    PROGRESS,
)
PROGRESS_UNKNOWN_TOKEN = Rule(
    "progress-unknown-token",
    Severity.WARNING,
    "progress names a token that no active request carries",
    PROGRESS,
)
PROGRESS_TOKEN_REUSED = Rule(
    "progress-token-reused",
    Severity.WARNING,
    "a request reuses the token of a request that is still active",
    PROGRESS,
)
PROGRESS_TOKEN_INVALID_TYPE = Rule(
    "progress-token-invalid-type",
    Severity.ERROR,
    "a progress token is neither a string nor an integer",
    PROGRESS,
)
PROGRESS_TOKEN_AMBIGUOUS = Rule(
    "progress-token-ambiguous",
    Severity.WARNING,
    'tokens "1" and 1 are different, but SDKs coerce them to one',
    PROGRESS,
)
PROGRESS_EXCEEDS_TOTAL = Rule(
    "progress-exceeds-total",
    Severity.WARNING,
    "progress is above the total it announced",
    PROGRESS,
)
PROGRESS_TOTAL_CHANGED = Rule(
    "progress-total-changed",
    Severity.WARNING,
    "the total changed in the middle of a progress stream",
    PROGRESS,
)
PROGRESS_VALUE_INVALID = Rule(
    "progress-value-invalid",
    Severity.ERROR,
    "progress or total is not a number",
    PROGRESS,
)
PROGRESS_NEVER_SENT = Rule(
    "progress-never-sent",
    Severity.INFO,
    "a request asked for progress and the server sent none (allowed: progress is optional)",
    PROGRESS,
)
PROGRESS_ON_STANDALONE_STREAM = Rule(
    "progress-on-standalone-stream",
    Severity.WARNING,
    "progress came on the standalone GET stream, not the request's own",
    PROGRESS,
)
REQUEST_CANCELLED = Rule(
    "request-cancelled",
    Severity.INFO,
    "a request was cancelled: notifications/cancelled, or (2026-07-28) its stream closed",
    CANCELLATION,
)
MESSAGE_AFTER_CANCELLATION = Rule(
    "message-after-cancellation",
    Severity.WARNING,
    "the server sent progress or a response for a cancelled request",
    CANCELLATION,
)
STREAM_CLOSED_WITHOUT_RESPONSE = Rule(
    "stream-closed-without-response",
    Severity.WARNING,
    "a response stream ended without the response; the request is lost",
    TRANSPORTS,
)
HTTP_ERROR = Rule(
    "http-error",
    Severity.ERROR,
    "the request was answered with an HTTP error status, not a JSON-RPC response",
    TRANSPORTS,
)
ERA_FALLBACK = Rule(
    "era-fallback",
    Severity.INFO,
    "the server refused the 2026-07-28 server/discover probe and the client fell back to "
    "initialize: a handshake-era server, met as the spec intends",
    VERSIONING,
)

MESSAGE_INVALID = Rule(
    "message-invalid",
    Severity.WARNING,
    "a body or SSE event that is not a JSON-RPC message; forwarded untouched",
    MESSAGES,
)
METHOD_UNKNOWN = Rule(
    "method-unknown",
    Severity.INFO,
    "a method no MCP revision defines (an extension, or a typo); forwarded untouched",
    MESSAGES,
)
PROTOCOL_VERSION_UNKNOWN = Rule(
    "protocol-version-unknown",
    Severity.WARNING,
    "a protocol version no MCP revision defines, in a message or MCP-Protocol-Version header",
    VERSIONING,
)

# The MCP authorization flow, seen by `proxy --forward` (analysis/oauth.py): one info line a
# step, and the rules of the authorization spec (RFC 9728, RFC 8414, RFC 8707) it can break.
OAUTH_CHALLENGE = Rule(
    "oauth-challenge",
    Severity.INFO,
    "the server asked for authorization (401 Unauthorized)",
    AUTHORIZATION,
)
OAUTH_CHALLENGE_INCOMPLETE = Rule(
    "oauth-challenge-incomplete",
    Severity.WARNING,
    "a 401 without WWW-Authenticate: the client cannot find the resource metadata",
    AUTHORIZATION,
)
OAUTH_RESOURCE_METADATA = Rule(
    "oauth-resource-metadata",
    Severity.INFO,
    "protected resource metadata (RFC 9728)",
    AUTHORIZATION,
)
OAUTH_SERVER_METADATA = Rule(
    "oauth-server-metadata",
    Severity.INFO,
    "authorization server metadata (RFC 8414 / OIDC)",
    AUTHORIZATION,
)
OAUTH_REGISTRATION = Rule(
    "oauth-registration",
    Severity.INFO,
    "dynamic client registration (RFC 7591)",
    AUTHORIZATION,
)
OAUTH_AUTHORIZATION = Rule(
    "oauth-authorization", Severity.INFO, "the authorization request", AUTHORIZATION
)
OAUTH_TOKEN = Rule("oauth-token", Severity.INFO, "a token request", AUTHORIZATION)
OAUTH_TOKEN_REFUSED = Rule(
    "oauth-token-refused",
    Severity.WARNING,
    "the authorization server refused a token request",
    AUTHORIZATION,
)
OAUTH_RESOURCE_MISSING = Rule(
    "oauth-resource-missing",
    Severity.WARNING,
    "no `resource` parameter: MCP clients MUST name the server they want a token for (RFC 8707)",
    AUTHORIZATION,
)
OAUTH_PKCE_MISSING = Rule(
    "oauth-pkce-missing",
    Severity.WARNING,
    "no PKCE code_challenge (S256): MCP clients MUST use PKCE",
    AUTHORIZATION,
)
OAUTH_METADATA_PATH = Rule(
    "oauth-metadata-path",
    Severity.WARNING,
    "metadata served at a path its own contents say is wrong (RFC 8414 §3, RFC 9728 §3)",
    AUTHORIZATION,
)
OAUTH_RESOURCE_MISMATCH = Rule(
    "oauth-resource-mismatch",
    Severity.ERROR,
    "the metadata's `resource` is not the URL the client used: SDK clients refuse it "
    "(RFC 9728 §3.3)",
    AUTHORIZATION,
)
HOST_TUNNELLED = Rule(
    "host-tunnelled",
    Severity.INFO,
    "proxy --forward passed a host's bytes through unread (no --allow-host pattern matches)",
    AUTHORIZATION,
)

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

# What `mcp-tap check` asserts about a recording as a whole (its --expect-tool,
# --forbid-tool and --max-duration flags): pins of a test, not rules of the protocol.
TOOL_EXPECTED = Rule(
    "tool-expected",
    Severity.ERROR,
    "a tool --expect-tool names was never called",
    TOOLS,
)
TOOL_FORBIDDEN = Rule(
    "tool-forbidden", Severity.ERROR, "a tool --forbid-tool names was called", TOOLS
)
DURATION_EXCEEDED = Rule(
    "duration-exceeded",
    Severity.ERROR,
    "a request took longer than --max-duration allows for its method",
    MESSAGES,
)

RULES: tuple[Rule, ...] = (
    PROGRESS_NOT_INCREASING,
    PROGRESS_AFTER_COMPLETION,
    PROGRESS_UNKNOWN_TOKEN,
    PROGRESS_TOKEN_REUSED,
    PROGRESS_TOKEN_INVALID_TYPE,
    PROGRESS_TOKEN_AMBIGUOUS,
    PROGRESS_EXCEEDS_TOTAL,
    PROGRESS_TOTAL_CHANGED,
    PROGRESS_VALUE_INVALID,
    PROGRESS_NEVER_SENT,
    PROGRESS_ON_STANDALONE_STREAM,
    REQUEST_CANCELLED,
    MESSAGE_AFTER_CANCELLATION,
    STREAM_CLOSED_WITHOUT_RESPONSE,
    HTTP_ERROR,
    ERA_FALLBACK,
    MESSAGE_INVALID,
    METHOD_UNKNOWN,
    PROTOCOL_VERSION_UNKNOWN,
    OAUTH_CHALLENGE,
    OAUTH_CHALLENGE_INCOMPLETE,
    OAUTH_RESOURCE_METADATA,
    OAUTH_SERVER_METADATA,
    OAUTH_REGISTRATION,
    OAUTH_AUTHORIZATION,
    OAUTH_TOKEN,
    OAUTH_TOKEN_REFUSED,
    OAUTH_RESOURCE_MISSING,
    OAUTH_PKCE_MISSING,
    OAUTH_METADATA_PATH,
    OAUTH_RESOURCE_MISMATCH,
    HOST_TUNNELLED,
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
    TOOL_EXPECTED,
    TOOL_FORBIDDEN,
    DURATION_EXCEEDED,
)
BY_SLUG = {rule.slug: rule for rule in RULES}

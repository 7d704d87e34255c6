"""The rules of the traffic itself: progress, cancellation, transports, wire messages, OAuth.

Raised by the tracker (`analysis/tracker.py`), the wire checks (`analysis/wire_checks.py`)
and the authorization flow (`analysis/oauth.py`).
"""

from __future__ import annotations

from mcp_tap.analysis.rules.base import (
    AUTHORIZATION,
    CANCELLATION,
    MESSAGES,
    PROGRESS,
    TRANSPORTS,
    VERSIONING,
    Rule,
)
from mcp_tap.protocol.events import Severity

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
)

"""The catalogue of rules the progress tracker checks, each named by a stable slug.

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


PROGRESS_NOT_INCREASING = Rule(
    "progress-not-increasing",
    Severity.ERROR,
    "progress did not increase; it MUST increase with each notification (PROTOCOL 4.4)",
)
PROGRESS_AFTER_COMPLETION = Rule(
    "progress-after-completion",
    Severity.ERROR,
    "progress arrived after its request completed; notifications MUST stop (PROTOCOL 4.3)",
)
PROGRESS_UNKNOWN_TOKEN = Rule(
    "progress-unknown-token",
    Severity.WARNING,
    "progress names a token that no active request carries (PROTOCOL 4.3)",
)
PROGRESS_TOKEN_REUSED = Rule(
    "progress-token-reused",
    Severity.WARNING,
    "a request reuses the token of a request that is still active (PROTOCOL 4.2)",
)
PROGRESS_TOKEN_INVALID_TYPE = Rule(
    "progress-token-invalid-type",
    Severity.ERROR,
    "a progress token is neither a string nor an integer (PROTOCOL 4.1)",
)
PROGRESS_TOKEN_AMBIGUOUS = Rule(
    "progress-token-ambiguous",
    Severity.WARNING,
    'tokens "1" and 1 are different, but SDKs coerce them to one (PROTOCOL 4.1)',
)
PROGRESS_EXCEEDS_TOTAL = Rule(
    "progress-exceeds-total",
    Severity.WARNING,
    "progress is above the total it announced (PROTOCOL 4.4)",
)
PROGRESS_TOTAL_CHANGED = Rule(
    "progress-total-changed",
    Severity.WARNING,
    "the total changed in the middle of a progress stream (PROTOCOL 4.4)",
)
PROGRESS_VALUE_INVALID = Rule(
    "progress-value-invalid",
    Severity.ERROR,
    "progress or total is not a number",
)
PROGRESS_NEVER_SENT = Rule(
    "progress-never-sent",
    Severity.INFO,
    "a request asked for progress and the server sent none (allowed: progress is optional)",
)
PROGRESS_ON_STANDALONE_STREAM = Rule(
    "progress-on-standalone-stream",
    Severity.WARNING,
    "progress came on the standalone GET stream, not the request's own (PROTOCOL 4.7)",
)
REQUEST_CANCELLED = Rule(
    "request-cancelled",
    Severity.INFO,
    "a request was cancelled: notifications/cancelled, or (2026-07-28) its stream closed",
)
MESSAGE_AFTER_CANCELLATION = Rule(
    "message-after-cancellation",
    Severity.WARNING,
    "the server sent progress or a response for a cancelled request (PROTOCOL 5)",
)
STREAM_CLOSED_WITHOUT_RESPONSE = Rule(
    "stream-closed-without-response",
    Severity.WARNING,
    "a response stream ended without the response; the request is lost",
)
HTTP_ERROR = Rule(
    "http-error",
    Severity.ERROR,
    "the request was answered with an HTTP error status, not a JSON-RPC response",
)

MESSAGE_INVALID = Rule(
    "message-invalid",
    Severity.WARNING,
    "a body or SSE event that is not a JSON-RPC message; forwarded untouched",
)
METHOD_UNKNOWN = Rule(
    "method-unknown",
    Severity.INFO,
    "a method no MCP revision defines (an extension, or a typo); forwarded untouched",
)
PROTOCOL_VERSION_UNKNOWN = Rule(
    "protocol-version-unknown",
    Severity.WARNING,
    "a protocol version no MCP revision defines, in a message or MCP-Protocol-Version header",
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
    MESSAGE_INVALID,
    METHOD_UNKNOWN,
    PROTOCOL_VERSION_UNKNOWN,
)
BY_SLUG = {rule.slug: rule for rule in RULES}

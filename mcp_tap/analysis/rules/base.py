"""A rule's shape, and the links to where the specification says what each rule checks."""

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

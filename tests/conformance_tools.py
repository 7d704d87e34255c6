"""The tools the official conformance suite's asking scenarios call, for a test server.

npm `@modelcontextprotocol/conformance` checks a server's sampling and elicitation with
`tools-call-sampling`, `tools-call-elicitation`, `elicitation-sep1034-defaults` and
`elicitation-sep1330-enums`, each calling a tool of its own reference server (which is not
published to npm). These are those tools, as the scenarios' descriptions specify them; each
asks on its call's own stream, as a server does for a request it makes while answering one.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ElicitResult, SamplingMessage, TextContent

USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    },
    "required": ["username", "email"],
}
DEFAULTS_SCHEMA: dict[str, Any] = {  # SEP-1034: a default for every primitive type
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "John Doe"},
        "age": {"type": "integer", "default": 30},
        "score": {"type": "number", "default": 95.5},
        "status": {
            "type": "string",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "default": True},
    },
}


def _choices(prefix: str, titles: list[str]) -> list[dict[str, str]]:
    return [{"const": f"{prefix}{n}", "title": t} for n, t in enumerate(titles, 1)]


ENUMS_SCHEMA: dict[str, Any] = {  # SEP-1330: the five kinds of enum
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {
            "type": "string",
            "oneOf": _choices("value", ["First Option", "Second Option", "Third Option"]),
        },
        "legacyEnum": {
            "type": "string",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "items": {
                "anyOf": _choices("value", ["First Choice", "Second Choice", "Third Choice"])
            },
        },
    },
}


def _completed(result: ElicitResult) -> str:
    return f"Elicitation completed: action={result.action}, content={result.content}"


def add_conformance_tools(server: MCPServer) -> None:
    """`test_sampling`, `test_elicitation` and the SEP-1034 and SEP-1330 elicitations."""

    @server.tool()
    async def test_sampling(prompt: str, ctx: Context) -> str:
        """Ask the client's model `prompt`; return its text."""
        result = await ctx.session.create_message(  # type: ignore[call-overload]
            [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
            max_tokens=100,
            related_request_id=ctx.request_id,
        )
        content = result.content
        return f"LLM response: {content.text if isinstance(content, TextContent) else content}"

    @server.tool()
    async def test_elicitation(message: str, ctx: Context) -> str:
        """Ask the user for a username and an email address."""
        result = await ctx.session.elicit_form(message, USER_SCHEMA, ctx.request_id)
        return f"User response: action={result.action}, content={result.content}"

    @server.tool()
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        """Ask with a default for every primitive type (SEP-1034)."""
        message = "Please review and update the form fields with defaults"
        return _completed(await ctx.session.elicit_form(message, DEFAULTS_SCHEMA, ctx.request_id))

    @server.tool()
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        """Ask with the five kinds of enum (SEP-1330)."""
        message = "Please select options from the enum fields"
        return _completed(await ctx.session.elicit_form(message, ENUMS_SCHEMA, ctx.request_id))

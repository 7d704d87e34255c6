"""Tools checked against themselves: the schemas a tool declares, and the calls that use them.

From a `tools/list` result each tool's `inputSchema` and `outputSchema` must be valid JSON
Schema of their dialect (their own `$schema`, or the revision's default: 2020-12 from
2025-11-25 on, draft-07 before). Then each `tools/call` is held to them: its `arguments`
to the `inputSchema`; its result's `structuredContent` to the `outputSchema`, which also
makes `structuredContent` required (unless the result is an error, `isError: true`).

`ToolContracts` only judges; `SchemaChecker` feeds it and publishes what it finds.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from mcp_tap.analysis.json_memo import shared_json_text
from mcp_tap.analysis.rules import (
    TOOL_ARGUMENTS_INVALID,
    TOOL_SCHEMA_INVALID,
    TOOL_STRUCTURED_CONTENT_INVALID,
    TOOL_STRUCTURED_CONTENT_MISSING,
    Rule,
)
from mcp_tap.analysis.schema_catalog import DRAFT_07, DRAFT_2020_12, EMBEDDED_DIALECT_SINCE
from mcp_tap.analysis.schema_validation import Violation, explain, json_path

MAX_VIOLATIONS = 3  # per call: the first few say what is wrong, the rest repeat it


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken tool contract, for the checker to publish."""

    rule: Rule
    detail: str
    violation: Violation | None = None


@dataclass
class _Tool:
    name: str
    inputs: Any = None  # compiled validator of inputSchema, None when it was unusable
    outputs: Any = None  # compiled validator of outputSchema, None when none was declared


@dataclass
class _Session:
    tools: dict[str, _Tool] = field(default_factory=dict)
    # The last tools/list result's tools and revision, and what they gave: a client that
    # lists again usually gets the same list, and comparing it costs far less than checking
    # and compiling every schema again.
    listed: Any = None
    listed_text: bytes | None = None  # its JSON, when orjson read it: then compared instead
    revision: str = ""
    problems: list[Problem] = field(default_factory=list)


def dialect_for(schema: dict[str, Any], revision: str) -> str:
    """The dialect a tool's schema is written in: its `$schema`, or its revision's default."""
    named = schema.get("$schema")
    if isinstance(named, str):
        return named
    return DRAFT_2020_12 if revision >= EMBEDDED_DIALECT_SINCE else DRAFT_07


class ToolContracts:
    """The tools each session listed, and the calls judged by them."""

    def __init__(self, sessions: int) -> None:
        """`sessions`: whose tool lists are kept, at most (a long proxy run is bounded)."""
        self.max_sessions = sessions
        # session id (None for sessionless traffic, where one server answers every POST)
        self._sessions: OrderedDict[str | None, _Session] = OrderedDict()

    def listed(
        self, session: str | None, result: Any, revision: str, json_exact: bool = False
    ) -> list[Problem]:
        """A tools/list result: check and compile each tool's schemas. `json_exact`: orjson
        read it (`RpcMessage.json_exact`), so its JSON text names the tools exactly, and the
        text compares with the last list's for a fraction of what comparing values costs."""
        tools = result.get("tools") if isinstance(result, dict) else None
        if not isinstance(tools, list):
            return []  # the message's own schema check says so
        state = self._sessions.get(session)
        if state is None:
            state = self._sessions[session] = _Session()
            if len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(session)
        text = _text_of(tools) if json_exact else None
        if state.revision == revision and (
            text == state.listed_text if text is not None else state.listed == tools
        ):
            return list(state.problems)
        problems: list[Problem] = []
        for tool in tools:
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                continue
            name = tool["name"]
            entry = state.tools[name] = _Tool(name)
            entry.inputs = self._compiled(name, "inputSchema", tool, revision, problems)
            entry.outputs = self._compiled(name, "outputSchema", tool, revision, problems)
        state.listed, state.listed_text = tools, text
        state.revision, state.problems = revision, list(problems)
        return problems

    def called(self, session: str | None, params: Any) -> list[Problem]:
        """A tools/call request: its arguments against the tool's inputSchema."""
        tool = self._tool(session, params)
        if tool is None or tool.inputs is None:
            return []
        arguments = params.get("arguments", {})
        where = ("params", "arguments")
        label = f"{tool.name}.inputSchema"
        return [
            Problem(
                TOOL_ARGUMENTS_INVALID,
                f"tool {tool.name!r} called with arguments not matching its inputSchema: "
                f"{_said(violation)}",
                violation,
            )
            for violation in _violations(tool.inputs, arguments, label, where)
        ]

    def answered(self, session: str | None, params: Any, result: Any) -> list[Problem]:
        """A tools/call result: structuredContent present and valid when declared."""
        tool = self._tool(session, params)
        if tool is None or tool.outputs is None or not isinstance(result, dict):
            return []
        if result.get("isError") is True or result.get("resultType") == "input_required":
            return []  # an error or a request for input carries no structured result
        if "structuredContent" not in result:
            detail = f"tool {tool.name!r} declares an outputSchema; its result has no "
            return [Problem(TOOL_STRUCTURED_CONTENT_MISSING, detail + "structuredContent")]
        where = ("result", "structuredContent")
        label = f"{tool.name}.outputSchema"
        return [
            Problem(
                TOOL_STRUCTURED_CONTENT_INVALID,
                f"tool {tool.name!r} structuredContent does not match its outputSchema: "
                f"{_said(violation)}",
                violation,
            )
            for violation in _violations(tool.outputs, result["structuredContent"], label, where)
        ]

    def _tool(self, session: str | None, params: Any) -> _Tool | None:
        state = self._sessions.get(session)
        if state is None or not isinstance(params, dict):
            return None
        name = params.get("name")
        return state.tools.get(name) if isinstance(name, str) else None

    def _compiled(
        self, name: str, key: str, tool: dict[str, Any], revision: str, problems: list[Problem]
    ) -> Any:
        """The validator of one of a tool's schemas; an unusable schema is a problem."""
        schema = tool.get(key)
        if not isinstance(schema, dict):
            return None  # absent, or not an object: the Tool definition's check says so
        dialect = dialect_for(schema, revision)
        document = {**schema, "$schema": dialect}
        try:
            jsonschema_rs.meta.validate(document)
            return jsonschema_rs.validator_for(document, offline=True)
        except jsonschema_rs.ValidationError as error:
            path = json_path(list(error.instance_path), f"{name}.{key}")
            detail = f"tool {name!r} {key} is not valid {_dialect_name(dialect)}: {path}: "
            problems.append(Problem(TOOL_SCHEMA_INVALID, detail + str(error.message)))
        except jsonschema_rs.ReferencingError as error:
            if "Unknown meta-schema" in str(error):
                return None  # a dialect mcp-tap cannot judge: neither flagged nor used
            detail = f"tool {name!r} {key} has a reference that does not resolve: {error}"
            problems.append(Problem(TOOL_SCHEMA_INVALID, detail.splitlines()[0]))
        return None


def _text_of(tools: list[Any]) -> bytes | None:
    try:
        return shared_json_text(tools)  # the 2026-07-28 and definition checkers read it too
    except TypeError:  # orjson.JSONEncodeError: not from orjson after all
        return None


def _violations(
    validator: Any, instance: Any, label: str, where: tuple[str, ...]
) -> list[Violation]:
    if validator.is_valid(instance):
        return []
    found = []
    for error in validator.iter_errors(instance):
        found.append(explain(error, label, where))
        if len(found) == MAX_VIOLATIONS:
            break
    return found


def _said(violation: Violation) -> str:
    return f"{violation.path}: expected {violation.expected}, found {violation.found}"


def _dialect_name(dialect: str) -> str:
    if "2020-12" in dialect:
        return "JSON Schema 2020-12"
    if "draft-07" in dialect:
        return "JSON Schema draft-07"
    return f"JSON Schema ({dialect})"

"""Fault rules: break the traffic on purpose, MCP-aware (`--fault RULE`, `--faults FILE`).

Sans-IO, below the carriers: it may import `protocol` only. `rules.py` parses a rule from its
text (or a mapping read from a YAML file by the command), `plan.py` decides, message by
message, which action a carrier performs (`FaultPlan.decide`), and `calls.py` keeps the calls
of a stream of messages so a carrier that has no HTTP exchange (stdio) can say which call a
message belongs to. The carriers (`http/`, `stdio/`) do what they are told; with no rule
they never ask.
"""

from mcp_tap.faults.plan import Action, FaultPlan, MessageContext
from mcp_tap.faults.rules import ActionKind, Rule, RuleError, parse_rule, rules_from_data

__all__ = [
    "Action",
    "ActionKind",
    "FaultPlan",
    "MessageContext",
    "Rule",
    "RuleError",
    "parse_rule",
    "rules_from_data",
]

"""A fault rule, from its text or from a mapping: an action and the selectors it applies to.

The text form is the action first, then `key=value` words, quoted as a shell quotes::

    error tool=echo code=-32001 message="echo is broken today"
    status 429 retry-after=1 method=tools/call times=1
    drop-stream tool=long_task after-progress=2 times=1
    delay 500ms jitter=200ms method=tools/*
    slow bytes=16 every=50ms tool=download_file
    kill tool=crash after-progress=1

A file of rules (`--faults FILE.yaml`) is a list of such strings, or of mappings with the
same keys (`{action: error, tool: echo, code: -32001}`); the command reads the YAML, this
module only sees the data.
"""

from __future__ import annotations

import enum
import fnmatch
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp_tap.protocol.events import Direction

DEFAULT_ERROR_CODE = -32603  # JSON-RPC "internal error"
DEFAULT_ERROR_MESSAGE = "mcp-tap: fault injected"
DEFAULT_SLOW_BYTES = 16  # `slow`: bytes forwarded at a time
DEFAULT_SLOW_EVERY = 0.05  # `slow`: seconds between two pieces


class RuleError(ValueError):
    """A rule that cannot be read; its text is one line for a person."""


class ActionKind(enum.StrEnum):
    """What a carrier does to the matched message."""

    ERROR = "error"  # answer a request with a JSON-RPC error; the server never gets it
    STATUS = "status"  # answer a request with an HTTP status; the server never gets it
    DROP_STREAM = "drop-stream"  # end the SSE stream before this message: the client resumes
    RESET = "reset"  # cut the client's connection (TCP reset) instead of this message
    DELAY = "delay"  # hold the message back, then forward it
    HANG = "hang"  # never forward the message, never answer
    SWALLOW = "swallow"  # leave the message out, and go on
    DUPLICATE = "duplicate"  # forward the message twice
    TRUNCATE = "truncate"  # forward the first half of the message's text
    CORRUPT = "corrupt"  # forward the message's text with bytes that are not JSON
    SLOW = "slow"  # forward the message's bytes a few at a time, with a pause between
    REORDER = "reorder"  # hold a progress notification and forward it after the next message
    KILL = "kill"  # stdio: SIGKILL the server instead of forwarding the message
    CLOSE_STDOUT = "close-stdout"  # stdio: the host's end of the server's stdout closes


# Which way a message goes when the rule does not say: a request for the actions that
# answer in the server's place, what the server sends for the ones that shape its stream.
_DEFAULT_DIRECTION = {
    ActionKind.ERROR: Direction.CLIENT_TO_SERVER,
    ActionKind.STATUS: Direction.CLIENT_TO_SERVER,
    ActionKind.RESET: Direction.CLIENT_TO_SERVER,
    ActionKind.HANG: Direction.CLIENT_TO_SERVER,
    ActionKind.DELAY: Direction.CLIENT_TO_SERVER,
    ActionKind.DROP_STREAM: Direction.SERVER_TO_CLIENT,
    ActionKind.SWALLOW: Direction.SERVER_TO_CLIENT,
    ActionKind.DUPLICATE: Direction.SERVER_TO_CLIENT,
    ActionKind.TRUNCATE: Direction.SERVER_TO_CLIENT,
    ActionKind.CORRUPT: Direction.SERVER_TO_CLIENT,
    ActionKind.SLOW: Direction.SERVER_TO_CLIENT,
    ActionKind.REORDER: Direction.SERVER_TO_CLIENT,
    ActionKind.KILL: None,
    ActionKind.CLOSE_STDOUT: None,
}
# Only a request can be answered in the server's place.
REQUEST_ONLY = frozenset({ActionKind.ERROR, ActionKind.STATUS})
HTTP_ONLY = frozenset({ActionKind.STATUS, ActionKind.DROP_STREAM, ActionKind.RESET})
STDIO_ONLY = frozenset({ActionKind.KILL, ActionKind.CLOSE_STDOUT})
# the proxy's and stdio's, not the mock's
NOT_SERVED = frozenset({ActionKind.SLOW, ActionKind.REORDER})
_POSITIONAL = {ActionKind.STATUS: "status", ActionKind.DELAY: "delay", ActionKind.ERROR: "code"}
_ACTION_KEYS = {
    ActionKind.ERROR: {"code", "message"},
    ActionKind.STATUS: {"status", "retry-after"},
    ActionKind.DELAY: {"delay", "jitter"},
    ActionKind.SLOW: {"bytes", "every"},
}
_FIELDS = {"bytes": "slow_bytes", "every": "slow_every"}  # `bytes` would shadow the type
_SELECTOR_KEYS = {
    "method", "tool", "resource", "session", "direction", "nth", "after-progress",
    "probability", "times",
}  # fmt: skip
_DIRECTIONS = {
    "client": Direction.CLIENT_TO_SERVER,
    "client->server": Direction.CLIENT_TO_SERVER,
    "server": Direction.SERVER_TO_CLIENT,
    "server->client": Direction.SERVER_TO_CLIENT,
}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")


@dataclass(frozen=True)
class Rule:
    """One parsed rule: what to do (`action` and its arguments) and to which messages."""

    text: str  # the rule as the user gave it (or as a mapping reads back): named by events
    action: ActionKind
    method: str | None = None  # a glob on the method (of the call, for what answers it)
    tool: str | None = None  # a glob on the tool name of a tools/call
    resource: str | None = None  # a glob on the uri of a resources/* request
    session: str | None = None
    direction: Direction | None = None  # None: either way
    nth: int | None = None  # only the nth matching message (1 is the first)
    after_progress: int | None = None  # only once this many progress notifications passed
    probability: float = 1.0
    times: int | None = None  # at most this many times
    code: int = DEFAULT_ERROR_CODE
    message: str = DEFAULT_ERROR_MESSAGE
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0  # seconds
    jitter: float = 0.0  # seconds, added at random in [0, jitter)
    slow_bytes: int = DEFAULT_SLOW_BYTES  # `bytes=`
    slow_every: float = DEFAULT_SLOW_EVERY  # `every=`, seconds

    def matches_name(self, glob: str | None, value: str | None) -> bool:
        """A glob selector left out matches anything; one given needs a value that fits."""
        return glob is None or (value is not None and fnmatch.fnmatchcase(value, glob))


def parse_rule(text: str) -> Rule:
    """Read one rule from its text form (see the module docstring); raises RuleError."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise RuleError(f"fault rule {text!r}: {error}") from None
    if not words:
        raise RuleError("fault rule is empty")
    values: dict[str, str] = {}
    action_word, rest = words[0], words[1:]
    action = _action(action_word, text)
    for word in rest:
        key, sep, value = word.partition("=")
        if not sep:
            positional = _POSITIONAL.get(action)
            if positional is None or positional in values:
                raise RuleError(f"fault rule {text!r}: expected key=value, got {word!r}")
            key, value = positional, word
        values[key] = value
    return _build(text, action, values)


def rules_from_data(data: Any, source: str) -> list[Rule]:
    """The rules of a file: a list of rule strings or mappings (or `{faults: [...]}`)."""
    if isinstance(data, Mapping) and "faults" in data:
        data = data["faults"]
    if not isinstance(data, list):
        raise RuleError(f"{source}: expected a list of fault rules")
    rules = []
    for index, item in enumerate(data, 1):
        if isinstance(item, str):
            rules.append(parse_rule(item))
        elif isinstance(item, Mapping):
            rules.append(_from_mapping(item, f"{source}: rule {index}"))
        else:
            raise RuleError(f"{source}: rule {index} is neither a string nor a mapping")
    return rules


def _from_mapping(item: Mapping[Any, Any], where: str) -> Rule:
    values = {str(k): "" if v is None else str(v) for k, v in item.items()}
    action_word = values.pop("action", None)
    if action_word is None:
        raise RuleError(f"{where}: no `action`")
    text = " ".join([action_word] + [shlex.quote(f"{k}={v}") for k, v in values.items()])
    return _build(text, _action(action_word, where), values)


def _action(word: str, where: str) -> ActionKind:
    try:
        return ActionKind(word)
    except ValueError:
        known = ", ".join(kind.value for kind in ActionKind)
        raise RuleError(f"fault rule {where!r}: unknown action {word!r} (one of {known})") from None


def _build(text: str, action: ActionKind, values: dict[str, str]) -> Rule:
    allowed = _SELECTOR_KEYS | _ACTION_KEYS.get(action, set())
    for key in values:
        if key not in allowed:
            raise RuleError(
                f"fault rule {text!r}: unknown key {key!r} for {action.value} "
                f"(known: {', '.join(sorted(allowed))})"
            )
    fields: dict[str, Any] = {}
    try:
        for key, value in values.items():
            fields[_FIELDS.get(key, key.replace("-", "_"))] = _value(key, value)
    except ValueError as error:
        raise RuleError(f"fault rule {text!r}: {error}") from None
    fields.setdefault("direction", _DEFAULT_DIRECTION[action])
    if action is ActionKind.STATUS and "status" not in values:
        raise RuleError(f"fault rule {text!r}: status needs a code, as in `status 503`")
    if action in REQUEST_ONLY and fields["direction"] is Direction.SERVER_TO_CLIENT:
        raise RuleError(f"fault rule {text!r}: {action.value} answers requests only")
    if action is ActionKind.DUPLICATE and fields["direction"] is not Direction.SERVER_TO_CLIENT:
        # a client's request is never sent upstream twice: the server may have run it
        raise RuleError(f"fault rule {text!r}: duplicate applies to what the server sends")
    if fields.get("after_progress") is not None and "direction" not in values:
        fields["direction"] = Direction.SERVER_TO_CLIENT  # progress is what the server sends
    return Rule(text=text, action=action, **fields)


def _value(key: str, value: str) -> Any:
    if key in ("nth", "times", "after-progress", "bytes"):
        number = _int(key, value)
        if number < (0 if key == "after-progress" else 1):
            raise ValueError(f"{key} must be at least {0 if key == 'after-progress' else 1}")
        return number
    if key == "code":
        return _int(key, value)
    if key == "status":
        status = _int(key, value)
        if not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status (100-599), got {value}")
        return status
    if key == "probability":
        try:
            probability = float(value)
        except ValueError:
            raise ValueError(f"probability must be a number, got {value!r}") from None
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be between 0 and 1, got {value}")
        return probability
    if key in ("delay", "jitter", "every"):
        return parse_duration(key, value)
    if key == "direction":
        if value not in _DIRECTIONS:
            raise ValueError(f"direction must be client or server, got {value!r}")
        return _DIRECTIONS[value]
    if key == "retry-after":
        if not value.isdigit():
            raise ValueError(f"retry-after must be whole seconds, got {value!r}")
    return value


def parse_duration(key: str, value: str) -> float:
    """`500ms`, `2s` or `1.5` (seconds) in seconds."""
    found = _DURATION.match(value.strip())
    if found is None:
        raise ValueError(f"{key} must be a duration such as 500ms or 2s, got {value!r}")
    number = float(found.group(1))
    return number / 1000 if found.group(2) == "ms" else number


def _int(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{key} must be a whole number, got {value!r}") from None

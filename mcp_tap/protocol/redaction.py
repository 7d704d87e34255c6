"""Redaction: take secrets and session ids out of tap events before anything is written.

A `Redactor` maps an event to a new event (events are frozen; nothing is mutated, because
other subscribers hold the same objects). The recording writer applies it with session
pseudonyms; the live view, the JSON-lines view and the live OTLP exporter apply it without
them (`sessions=False`), so what a person sees still names the real sessions. Which names
and values are secrets is `secrets.py`'s policy.

* Credential headers keep their name; their value becomes the marker `<redacted:NAME>`.
* Secret query (and fragment) parameters of targets, `Location` and `Referer` keep their
  name: `api_key=<redacted:api_key>`.
* Session ids become stable pseudonyms, `session-1`, `session-2`... in order of first sight,
  everywhere they occur (headers, `session_id` fields, the 2024-11-05 `session_id=` query of
  targets and `endpoint` events), so a replay can still correlate a session's exchanges.
* `--redact-field` paths replace values inside JSON-RPC messages by `<redacted:PATH>`; bodies
  that are not JSON-RPC (OAuth's token and registration endpoints) lose their OAuth secrets.
* A fault's or finding's detail loses the secrets of the URLs it quotes.
* A stdio server's command line (`command`) and a target URL go through `secrets.py`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote

from mcp_tap.protocol.endpoint import LEGACY_SESSION_PARAMS
from mcp_tap.protocol.events import (
    ExchangeOpened,
    Fault,
    FaultInjected,
    Finding,
    Headers,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    TapEvent,
)
from mcp_tap.protocol.secrets import (
    is_credential_header,
    is_marker,
    is_secret_name,
    marker,
    redact_command,
    redact_query,
    redact_text,
    redact_url,
)

__all__ = ["RedactionRules", "Redactor", "is_marker", "marker", "parse_field_path"]

Event = TypeVar("Event", bound=TapEvent)
SESSION_HEADER = "mcp-session-id"
URL_HEADERS = frozenset({"location", "referer", "content-location"})  # an OAuth redirect's code
KEPT_HEADER_SETS = 64  # redacted header sets a redactor keeps (then it starts over)
# OAuth's secrets, in the bodies that are not JSON-RPC (form posts to a token endpoint, JSON
# from a token or registration endpoint): tokens, authorization codes, client secrets, PKCE
# verifiers and challenges.
SECRET_BODY_FIELDS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "code",
        "code_verifier",
        "code_challenge",
        "client_secret",
        "client_assertion",
        "assertion",
        "subject_token",
        "actor_token",
        "device_code",
        "registration_access_token",
        "password",
    }
)
_JSON_SECRET = re.compile(
    r'("(' + "|".join(sorted(SECRET_BODY_FIELDS)) + r')"\s*:\s*)"(?:[^"\\]|\\.)*"'
)
WILDCARD = "*"


def parse_field_path(text: str) -> tuple[str, ...]:
    """`$.params.arguments.password`, `params.items[*].key` -> segments; ValueError if empty."""
    path = text.strip()
    path = path[1:] if path.startswith("$") else path
    path = re.sub(r"\[([^\]]*)\]", r".\1", path)  # items[0] -> items.0, items[*] -> items.*
    segments = tuple(part for part in path.split(".") if part)
    if not segments:
        raise ValueError(f"--redact-field {text!r} names no field")
    return segments


@dataclasses.dataclass(frozen=True)
class RedactionRules:
    """What to redact. `builtin` covers credential headers and session pseudonyms."""

    builtin: bool = True
    headers: frozenset[str] = frozenset()  # extra header names, lower-case
    fields: tuple[tuple[str, ...], ...] = ()  # parsed field paths

    @classmethod
    def from_options(
        cls, enabled: bool = True, headers: Iterable[str] = (), fields: Iterable[str] = ()
    ) -> RedactionRules:
        """Rules from the command line: `--no-redact` only turns the built-in rules off."""
        return cls(
            builtin=enabled,
            headers=frozenset(name.strip().lower() for name in headers),
            fields=tuple(parse_field_path(path) for path in fields),
        )

    def describe(self) -> dict[str, Any]:
        """The rules as plain data, for the recording's header."""
        return {
            "builtin": self.builtin,
            "headers": sorted(self.headers),
            "fields": [".".join(path) for path in self.fields],
        }

    def header_is_secret(self, name: str) -> bool:
        """Whether a header's (lower-case) name says its value is a credential."""
        if name in self.headers:
            return True
        return self.builtin and is_credential_header(name)


class Redactor:
    """Applies `RedactionRules` to events; holds the session pseudonym table (one recording)."""

    def __init__(self, rules: RedactionRules | None = None, sessions: bool = True) -> None:
        """`sessions=False`: keep session ids as they are (for what a person sees live)."""
        self.rules = rules or RedactionRules()
        self.sessions = sessions
        self._sessions: dict[str, str] = {}
        self._secret_names: dict[str, bool] = {}  # header name -> rules.header_is_secret
        self._redacted_headers: dict[Headers, Headers] = {}

    def __call__(self, event: Event) -> Event:
        """A copy of `event` with secrets replaced; `event` itself is left untouched."""
        changes: dict[str, Any] = {}
        # The kinds are disjoint: the most frequent first, tuples (unions test slower)
        if isinstance(event, MessageSeen):
            if (message := self._message(event)) is not None:
                changes["message"] = message
        elif isinstance(event, (ExchangeOpened, ResponseStarted)):
            headers = self.headers(event.headers)
            if headers != event.headers:
                changes["headers"] = headers
            if isinstance(event, ExchangeOpened) and ("?" in event.target or "@" in event.target):
                target = self.target(event.target)
                if target != event.target:
                    changes["target"] = target
        elif isinstance(event, (Fault, FaultInjected, Finding)):
            detail = self._known_sessions(event.detail)
            detail = redact_text(detail) if self.rules.builtin else detail
            if detail != event.detail:
                changes["detail"] = detail
        session_id = getattr(event, "session_id", None)
        if session_id is not None and self.sessions:
            changes["session_id"] = self.session(session_id)
        return dataclasses.replace(event, **changes) if changes else event

    def session(self, session_id: str) -> str:
        """The stable pseudonym of a session id (the id itself when built-in rules are off)."""
        if not self.rules.builtin or not self.sessions:
            return session_id
        pseudonym = self._sessions.get(session_id)
        if pseudonym is None:
            pseudonym = self._sessions[session_id] = f"session-{len(self._sessions) + 1}"
        return pseudonym

    def url(self, url: str) -> str:
        """A URL with its password and secret or session query values redacted."""
        if not self.rules.builtin:
            return url
        return self._query(redact_url(url))

    def command(self, argv: Sequence[str]) -> list[str]:
        """A command line with its secrets replaced (see `secrets.redact_command`)."""
        if not self.rules.builtin:
            return list(argv)
        return redact_command(argv)

    def headers(self, headers: Headers) -> Headers:
        """Headers with secret values replaced and session ids pseudonymised. A client sends
        the same headers again and again: their redacted form is kept (a session's
        pseudonym never changes once given)."""
        known = self._redacted_headers.get(headers)
        if known is not None:
            return known
        redacted = self._redacted(headers)
        if len(self._redacted_headers) >= KEPT_HEADER_SETS:
            self._redacted_headers.clear()
        self._redacted_headers[headers] = redacted
        return redacted

    def _redacted(self, headers: Headers) -> Headers:
        out = []
        secret_names = self._secret_names
        for name, value in headers:
            secret = secret_names.get(name)
            if secret is None:
                secret = self.rules.header_is_secret(name)
                if len(secret_names) < 1024:  # names a client chose: keep the table bounded
                    secret_names[name] = secret
            if secret:
                value = marker(name)
            elif name == SESSION_HEADER:
                value = self.session(value)
            elif name in URL_HEADERS and ("?" in value or "#" in value):
                value = self.target(value)  # an authorization redirect carries the code
            out.append((name, value))
        return tuple(out)

    def target(self, target: str) -> str:
        """A request target or absolute URL (a forward proxy's) with its secrets replaced."""
        if not self.rules.builtin:
            return target
        return self._query(redact_url(target) if "://" in target else target)

    def _query(self, target: str) -> str:
        """Rewrite query values in place, keeping every other byte of the target as it was."""
        if not self.rules.builtin:
            return target
        return redact_query(target, self.session, LEGACY_SESSION_PARAMS)

    def _message(self, event: MessageSeen) -> Any:
        message = event.message
        if message.kind is MessageKind.ENDPOINT and message.raw is not None:
            return dataclasses.replace(message, raw=self._query(message.raw))
        if message.kind is MessageKind.INVALID and self.rules.builtin:
            if message.raw is not None:
                raw = _secret_text(message.raw)
                return None if raw == message.raw else dataclasses.replace(message, raw=raw)
            payload = _secret_fields(message.payload)
            if payload is not message.payload:
                return dataclasses.replace(message, payload=payload)
        if message.raw is not None or not self.rules.fields:
            return None  # invalid JSON is kept as text; field paths cannot reach into it
        payload = message.payload
        for path in self.rules.fields:
            payload = _redact_path(payload, path, ())
        return None if payload is message.payload else dataclasses.replace(message, payload=payload)

    def _known_sessions(self, text: str) -> str:
        for session_id, pseudonym in self._sessions.items():
            text = text.replace(session_id, pseudonym)
        return text


def _secret_text(text: str) -> str:
    """A body that is not JSON-RPC, with OAuth secrets replaced: JSON text, or a form."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return _JSON_SECRET.sub(lambda m: m.group(1) + '"' + marker(m.group(2)) + '"', text)
    if "=" not in text or any(c in stripped[:200] for c in " <\n"):
        return text  # not a form: HTML, prose
    parts = []
    for part in text.split("&"):
        name, eq, _ = part.partition("=")
        plain = unquote(name.replace("+", " ")).strip().lower()
        secret = plain in SECRET_BODY_FIELDS or is_secret_name(plain)
        parts.append(f"{name}={marker(plain)}" if eq and secret else part)
    return "&".join(parts)


def _secret_fields(value: Any) -> Any:
    """A JSON value that is not JSON-RPC with its OAuth secret fields' strings replaced."""
    if isinstance(value, dict):
        changed = {
            key: marker(key)
            if key in SECRET_BODY_FIELDS and isinstance(item, str)
            else _secret_fields(item)
            for key, item in value.items()
        }
        return changed if any(changed[k] is not value[k] for k in value) else value
    if isinstance(value, list):
        items = [_secret_fields(item) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def _redact_path(value: Any, path: tuple[str, ...], seen: tuple[str, ...]) -> Any:
    """`value` with every match of `path` replaced; copies only the containers it changes."""
    if not path:
        return marker(".".join(seen))
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        keys = list(value) if head == WILDCARD else [head] if head in value else []
        changed = {key: _redact_path(value[key], rest, (*seen, str(key))) for key in keys}
        changed = {k: v for k, v in changed.items() if v is not value[k]}
        return {**value, **changed} if changed else value
    if isinstance(value, list):
        if head == WILDCARD:
            indexes = range(len(value))
        elif head.isdigit() and int(head) < len(value):
            indexes = range(int(head), int(head) + 1)
        else:
            return value
        items = list(value)
        for index in indexes:
            items[index] = _redact_path(value[index], rest, (*seen, str(index)))
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value

"""The MCP authorization flow, step by step: one labelled line each, and the rules it breaks.

A forward proxy (`proxy --forward`) sees the whole flow: the MCP server's 401 with
`WWW-Authenticate`, the protected-resource metadata (RFC 9728), the authorization server's
metadata (RFC 8414 or OpenID discovery), dynamic client registration (RFC 7591), the
authorization request (when it crosses the proxy) and the token requests, first and refresh.
`OAuthFlow` publishes an info `Finding` for each step when its exchange closes, and warnings
or errors for what the MCP authorization spec forbids: no `resource` parameter, no PKCE,
metadata at a path its own contents contradict, and a `resource` that does not cover the URL
the client used (which SDK clients refuse: the reason `--forward` exists).

It reads events only, so it works the same on a live proxy and on `show FILE.yaml`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mcp_tap.analysis.rules import (
    OAUTH_AUTHORIZATION,
    OAUTH_CHALLENGE,
    OAUTH_CHALLENGE_INCOMPLETE,
    OAUTH_METADATA_PATH,
    OAUTH_PKCE_MISSING,
    OAUTH_REGISTRATION,
    OAUTH_RESOURCE_METADATA,
    OAUTH_RESOURCE_MISMATCH,
    OAUTH_RESOURCE_MISSING,
    OAUTH_SERVER_METADATA,
    OAUTH_TOKEN,
    OAUTH_TOKEN_REFUSED,
    Rule,
)
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Finding,
    MessageSeen,
    ResponseStarted,
    TapEvent,
    header,
)

PRM_WELL_KNOWN = "/.well-known/oauth-protected-resource"
AS_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
MAX_OPEN = 10_000  # exchanges followed at once; beyond it the oldest are forgotten


@dataclass
class _Exchange:
    opened: ExchangeOpened
    url: str  # scheme://host/path?query as the client asked for it
    status: int | None = None
    www_authenticate: str | None = None
    request_text: str | None = None  # a body that is not JSON-RPC (form or JSON), as text
    request_json: Any = None
    response_json: Any = None


@dataclass
class _Flow:
    """What the flow has learned so far (one forward proxy may see several servers)."""

    challenged: dict[str, str] = field(default_factory=dict)  # origin -> URL that got a 401
    token_endpoints: set[str] = field(default_factory=set)
    registration_endpoints: set[str] = field(default_factory=set)
    authorization_endpoints: set[str] = field(default_factory=set)


def exchange_url(opened: ExchangeOpened) -> str:
    """The URL a client used: the forward proxy's origin, or `http://` and the Host header."""
    origin = opened.origin or f"http://{header(opened.headers, 'host') or 'localhost'}"
    return origin + (opened.target if opened.target.startswith("/") else "/" + opened.target)


def _no_query(url: str) -> str:
    return url.partition("?")[0].partition("#")[0]


def resource_covers(resource: str, url: str) -> bool:
    """Whether a token for `resource` is one for `url`: same origin, path under it (the SDK's
    `check_resource_allowed`)."""
    wanted, given = urlsplit(_no_query(url)), urlsplit(resource)
    if (wanted.scheme.lower(), wanted.netloc.lower()) != (
        given.scheme.lower(),
        given.netloc.lower(),
    ):
        return False
    base = given.path.rstrip("/")
    path = wanted.path.rstrip("/")
    return path == base or path.startswith(base + "/") or not base


class OAuthFlow:
    """Subscriber: labels OAuth exchanges and checks them against the MCP authorization spec."""

    def __init__(self, publish: Callable[[TapEvent], None]) -> None:
        self.publish = publish
        self._open: dict[int, _Exchange] = {}
        self._flow = _Flow()

    def handle(self, event: TapEvent) -> None:
        if isinstance(event, ExchangeOpened):
            if len(self._open) >= MAX_OPEN:
                self._open.pop(next(iter(self._open)))
            self._open[event.exchange_id] = _Exchange(event, exchange_url(event))
            return
        seen = self._open.get(getattr(event, "exchange_id", None) or -1)
        if seen is None:
            return
        if isinstance(event, ResponseStarted):
            seen.status = event.status
            seen.www_authenticate = header(event.headers, "www-authenticate")
        elif isinstance(event, MessageSeen):
            message = event.message
            if event.direction is Direction.CLIENT_TO_SERVER:
                if message.raw is not None and seen.request_text is None:
                    seen.request_text = message.raw
                elif message.method is None and seen.request_json is None:
                    seen.request_json = message.payload
            elif seen.response_json is None and message.raw is None:
                seen.response_json = message.payload
        elif isinstance(event, ExchangeClosed):
            del self._open[event.exchange_id]
            self._judge(seen, event.time)

    def close(self) -> None:
        pass

    # -- the steps --

    def _judge(self, seen: _Exchange, time: float) -> None:
        url = _no_query(seen.url)
        path = urlsplit(url).path
        method = seen.opened.method
        if seen.status == 401:
            self._challenge(seen, time)
        elif PRM_WELL_KNOWN in path and method == "GET":
            self._resource_metadata(seen, time, path)
        elif (AS_WELL_KNOWN in path or OIDC_WELL_KNOWN in path) and method == "GET":
            self._server_metadata(seen, time, path)
        elif method == "POST" and (
            url in self._flow.registration_endpoints
            or (path.endswith("/register") and isinstance(seen.request_json, dict))
        ):
            status = seen.status
            self._say(OAUTH_REGISTRATION, seen, time, f"client registration at {url} -> {status}")
        elif method == "POST" and (url in self._flow.token_endpoints or self._form_grant(seen)):
            self._token(seen, time, url)
        elif method == "GET" and (
            url in self._flow.authorization_endpoints
            or (path.endswith("/authorize") and "response_type=" in seen.url)
        ):
            self._authorization(seen, time, url)

    def _challenge(self, seen: _Exchange, time: float) -> None:
        url = _no_query(seen.url)
        origin = _origin(url)
        self._flow.challenged[origin] = url
        method = seen.opened.method
        if seen.www_authenticate is None:
            detail = f"{method} {url} -> 401 without WWW-Authenticate"
            self._say(OAUTH_CHALLENGE_INCOMPLETE, seen, time, detail)
            return
        self._say(OAUTH_CHALLENGE, seen, time, f"{method} {url} -> 401: {seen.www_authenticate}")

    def _resource_metadata(self, seen: _Exchange, time: float, path: str) -> None:
        url = _no_query(seen.url)
        body = seen.response_json if isinstance(seen.response_json, dict) else None
        if seen.status != 200 or body is None:
            self._say(OAUTH_RESOURCE_METADATA, seen, time, f"{url} -> {seen.status}, no metadata")
            return
        resource = body.get("resource")
        servers = body.get("authorization_servers") or []
        detail = f"{url}: resource {resource}, authorization servers {servers}"
        self._say(OAUTH_RESOURCE_METADATA, seen, time, detail)
        if not path.startswith(PRM_WELL_KNOWN):
            expected = _origin(url) + PRM_WELL_KNOWN + path.partition(PRM_WELL_KNOWN)[0]
            detail = f"served at {url}; RFC 9728 puts it at {expected}"
            self._say(OAUTH_METADATA_PATH, seen, time, detail)
        if not isinstance(resource, str):
            return
        used = self._flow.challenged.get(_origin(url))
        if used is None:
            suffix = path.partition(PRM_WELL_KNOWN)[2]
            used = _origin(url) + suffix if suffix else None
        if used is not None and not resource_covers(resource, used):
            detail = f"{url} says resource {resource}, but the client used {used}" + (
                "; a reverse proxy changes the URL: use `mcp-tap proxy --forward`"
                if seen.opened.origin is None
                else ""
            )
            self._say(OAUTH_RESOURCE_MISMATCH, seen, time, detail)

    def _server_metadata(self, seen: _Exchange, time: float, path: str) -> None:
        url = _no_query(seen.url)
        body = seen.response_json if isinstance(seen.response_json, dict) else None
        if seen.status != 200 or body is None:
            self._say(OAUTH_SERVER_METADATA, seen, time, f"{url} -> {seen.status}, no metadata")
            return
        for key, endpoints in (
            ("token_endpoint", self._flow.token_endpoints),
            ("registration_endpoint", self._flow.registration_endpoints),
            ("authorization_endpoint", self._flow.authorization_endpoints),
        ):
            if isinstance(body.get(key), str):
                endpoints.add(_no_query(body[key]))
        issuer = body.get("issuer")
        detail = f"{url}: issuer {issuer}, token endpoint {body.get('token_endpoint')}"
        if body.get("registration_endpoint"):
            detail += f", registration {body['registration_endpoint']}"
        self._say(OAUTH_SERVER_METADATA, seen, time, detail)
        if isinstance(issuer, str):
            allowed = _issuer_urls(issuer)
            if url.rstrip("/") not in allowed:
                detail = (
                    f"served at {url}, but its issuer {issuer} puts it at {' or '.join(allowed)}"
                )
                self._say(OAUTH_METADATA_PATH, seen, time, detail)

    def _token(self, seen: _Exchange, time: float, url: str) -> None:
        form = _form(seen.request_text)
        grant = (form.get("grant_type") or ["?"])[0]
        label = "token refresh" if grant == "refresh_token" else "token request"
        detail = f"{label} (grant_type={grant}) at {url} -> {seen.status}"
        body = seen.response_json if isinstance(seen.response_json, dict) else {}
        if seen.status is not None and seen.status >= 400:
            error = body.get("error")
            self._say(OAUTH_TOKEN_REFUSED, seen, time, detail + (f": {error}" if error else ""))
        else:
            self._say(OAUTH_TOKEN, seen, time, detail)
        if grant in ("authorization_code", "refresh_token") and "resource" not in form:
            self._say(OAUTH_RESOURCE_MISSING, seen, time, f"the {label} at {url}")

    def _authorization(self, seen: _Exchange, time: float, url: str) -> None:
        query = parse_qs(urlsplit(seen.url).query)
        self._say(OAUTH_AUTHORIZATION, seen, time, f"authorization request to {url}")
        if "resource" not in query:
            self._say(OAUTH_RESOURCE_MISSING, seen, time, f"the authorization request to {url}")
        if (query.get("code_challenge_method") or [""])[
            0
        ] != "S256" or "code_challenge" not in query:
            self._say(OAUTH_PKCE_MISSING, seen, time, f"the authorization request to {url}")

    # -- helpers --

    def _form_grant(self, seen: _Exchange) -> bool:
        return "grant_type" in _form(seen.request_text)

    def _say(self, rule: Rule, seen: _Exchange, time: float, detail: str) -> None:
        self.publish(
            Finding(
                time,
                rule.severity,
                rule.slug,
                detail,
                exchange_id=seen.opened.exchange_id,
                session_id=seen.opened.session_id,
            )
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _form(text: str | None) -> dict[str, list[str]]:
    """A form-encoded body's fields; nothing when the text is not one."""
    if not text or text.lstrip().startswith(("{", "[")):
        return {}
    try:
        return parse_qs(text.strip(), keep_blank_values=True)
    except ValueError:
        return {}


def _issuer_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata may be: RFC 8414's inserted form, OIDC's both forms."""
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    return [
        origin + AS_WELL_KNOWN + path,
        origin + OIDC_WELL_KNOWN + path,
        origin + path + OIDC_WELL_KNOWN,
    ]

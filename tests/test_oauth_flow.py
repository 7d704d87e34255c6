"""The OAuth flow in events: each step labelled, its rule breaks found, its secrets redacted."""

from __future__ import annotations

import json
from typing import Any

from mcp_tap.analysis.oauth import OAuthFlow, resource_covers
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Finding,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    RpcMessage,
    StreamKind,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import classify_text
from mcp_tap.protocol.redaction import Redactor

MCP = "https://mcp.example.com"
AUTH = "https://auth.example.com"


class Flow:
    """Feeds exchanges to an `OAuthFlow` as a forward proxy would publish them."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.flow = OAuthFlow(self._publish)
        self.events: list[TapEvent] = []
        self.next_id = 0

    def _publish(self, event: TapEvent) -> None:
        assert isinstance(event, Finding)
        self.findings.append(event)

    def exchange(
        self,
        method: str,
        url: str,
        status: int,
        request: str | None = None,
        response: Any = None,
        response_headers: tuple[tuple[str, str], ...] = (),
        origin: bool = True,
    ) -> None:
        self.next_id += 1
        xid = self.next_id
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        events: list[TapEvent] = [
            ExchangeOpened(
                xid, 0.0, method, "/" + path, (("host", host),), None,
                f"{scheme}://{host}" if origin else None,
            )
        ]  # fmt: skip
        if request is not None:
            for message in classify_text(request):
                events.append(
                    MessageSeen(
                        xid, 0.0, Direction.CLIENT_TO_SERVER, StreamKind.REQUEST_BODY, None, message
                    )
                )
        events.append(
            ResponseStarted(
                xid, 0.1, status, (("content-type", "application/json"), *response_headers),
                StreamKind.JSON_RESPONSE, None,
            )
        )  # fmt: skip
        if response is not None:
            for message in classify_text(json.dumps(response)):
                events.append(
                    MessageSeen(
                        xid,
                        0.1,
                        Direction.SERVER_TO_CLIENT,
                        StreamKind.JSON_RESPONSE,
                        None,
                        message,
                    )
                )
        events.append(ExchangeClosed(xid, 0.2, "complete"))
        for event in events:
            self.events.append(event)
            self.flow.handle(event)

    def rules(self) -> list[str]:
        return [f.rule for f in self.findings]


def full_flow(flow: Flow, resource: str = f"{MCP}/mcp", with_resource: bool = True) -> None:
    challenge = f'Bearer resource_metadata="{MCP}/.well-known/oauth-protected-resource/mcp"'
    flow.exchange(
        "POST", f"{MCP}/mcp", 401, '{"jsonrpc":"2.0","id":1,"method":"server/discover"}',
        {"error": "invalid_token"}, (("www-authenticate", challenge),),
    )  # fmt: skip
    flow.exchange(
        "GET", f"{MCP}/.well-known/oauth-protected-resource/mcp", 200, None,
        {"resource": resource, "authorization_servers": [AUTH]},
    )  # fmt: skip
    flow.exchange(
        "GET", f"{AUTH}/.well-known/oauth-authorization-server", 200, None,
        {"issuer": AUTH, "token_endpoint": f"{AUTH}/token",
         "registration_endpoint": f"{AUTH}/register",
         "authorization_endpoint": f"{AUTH}/authorize"},
    )  # fmt: skip
    flow.exchange(
        "POST", f"{AUTH}/register", 201, '{"redirect_uris":["http://localhost:3030/cb"]}',
        {"client_id": "c1", "client_secret": "s3cret"},
    )  # fmt: skip
    extra = "&resource=https%3A%2F%2Fmcp.example.com%2Fmcp" if with_resource else ""
    flow.exchange(
        "GET",
        f"{AUTH}/authorize?response_type=code&client_id=c1&code_challenge=ch"
        f"&code_challenge_method=S256{extra}",
        302,
    )
    flow.exchange(
        "POST", f"{AUTH}/token", 200,
        f"grant_type=authorization_code&code=AUTHCODE&code_verifier=VERIFIER&client_id=c1{extra}",
        {"access_token": "AT", "token_type": "Bearer", "refresh_token": "RT"},
    )  # fmt: skip
    flow.exchange(
        "POST", f"{AUTH}/token", 200, f"grant_type=refresh_token&refresh_token=RT{extra}",
        {"access_token": "AT2", "token_type": "Bearer"},
    )  # fmt: skip


def test_a_clean_flow_is_one_info_line_a_step() -> None:
    flow = Flow()
    full_flow(flow)
    assert flow.rules() == [
        "oauth-challenge",
        "oauth-resource-metadata",
        "oauth-server-metadata",
        "oauth-registration",
        "oauth-authorization",
        "oauth-token",
        "oauth-token",
    ]
    assert all(f.severity == "info" for f in flow.findings)
    assert "token refresh" in flow.findings[-1].detail


def test_missing_resource_parameters_are_warnings() -> None:
    flow = Flow()
    full_flow(flow, with_resource=False)
    missing = [f for f in flow.findings if f.rule == "oauth-resource-missing"]
    assert len(missing) == 3  # the authorization request, the token request, the refresh
    assert all(f.severity == "warning" for f in missing)


def test_a_resource_for_another_url_is_an_error() -> None:
    flow = Flow()
    full_flow(flow, resource="https://elsewhere.example.com/mcp")
    mismatch = [f for f in flow.findings if f.rule == "oauth-resource-mismatch"]
    assert len(mismatch) == 1 and mismatch[0].severity == "error"
    assert f"the client used {MCP}/mcp" in mismatch[0].detail


def test_through_a_reverse_proxy_the_resource_mismatch_says_why() -> None:
    flow = Flow()
    challenge = (
        'Bearer resource_metadata="http://127.0.0.1:8890/.well-known/oauth-protected-resource/mcp"'
    )
    flow.exchange(
        "POST", "http://127.0.0.1:8890/mcp", 401, None, None, (("www-authenticate", challenge),),
        origin=False,
    )  # fmt: skip
    flow.exchange(
        "GET", "http://127.0.0.1:8890/.well-known/oauth-protected-resource/mcp", 200, None,
        {"resource": f"{MCP}/mcp", "authorization_servers": [AUTH]}, origin=False,
    )  # fmt: skip
    mismatch = [f for f in flow.findings if f.rule == "oauth-resource-mismatch"]
    assert len(mismatch) == 1 and "--forward" in mismatch[0].detail


def test_metadata_at_a_path_its_issuer_contradicts_is_a_warning() -> None:
    flow = Flow()
    flow.exchange(
        "GET", f"{AUTH}/tenant/.well-known/oauth-authorization-server", 200, None,
        {"issuer": f"{AUTH}/tenant", "token_endpoint": f"{AUTH}/tenant/token"},
    )  # fmt: skip
    flow.exchange(
        "GET", f"{MCP}/mcp/.well-known/oauth-protected-resource", 200, None,
        {"resource": f"{MCP}/mcp", "authorization_servers": [AUTH]},
    )  # fmt: skip
    paths = [f for f in flow.findings if f.rule == "oauth-metadata-path"]
    assert len(paths) == 2
    assert f"{AUTH}/.well-known/oauth-authorization-server/tenant" in paths[0].detail
    assert f"{MCP}/.well-known/oauth-protected-resource/mcp" in paths[1].detail


def test_resource_covers_as_the_sdk_checks_it() -> None:
    assert resource_covers(f"{MCP}/mcp", f"{MCP}/mcp")
    assert resource_covers(f"{MCP}/", f"{MCP}/mcp")
    assert resource_covers(MCP, f"{MCP}/mcp?x=1")
    assert not resource_covers(f"{MCP}/mcp", "http://127.0.0.1:8890/mcp")
    assert not resource_covers(f"{MCP}/mcp", f"{MCP}/mcpx")


def test_the_recording_keeps_no_token_code_secret_or_verifier() -> None:
    flow = Flow()
    full_flow(flow)
    redact = Redactor()
    stored = [redact(event) for event in flow.events]
    text = repr(stored)
    for secret in ("AUTHCODE", "VERIFIER", "s3cret", "'AT'", "'AT2'", "=RT", "'RT'", "ch&"):
        assert secret not in text, secret
    assert "<redacted:code_verifier>" in text and "<redacted:client_secret>" in text
    assert "resource=https%3A%2F%2Fmcp.example.com%2Fmcp" in text  # what is not secret stays
    assert "grant_type=authorization_code" in text


def test_json_rpc_messages_are_not_touched_by_the_oauth_rules() -> None:
    call = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"code":"1"}}}'
    message = classify_text(call)[0]
    event = MessageSeen(1, 0.0, Direction.CLIENT_TO_SERVER, StreamKind.REQUEST_BODY, None, message)
    assert Redactor()(event) is event
    invalid = RpcMessage(MessageKind.INVALID, raw="not a form, just text with code=1 in it")
    event = MessageSeen(1, 0.0, Direction.CLIENT_TO_SERVER, StreamKind.REQUEST_BODY, None, invalid)
    assert Redactor()(event) is event

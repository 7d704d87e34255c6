"""The redaction policy (`protocol/secrets.py`) over each form a secret takes."""

from __future__ import annotations

import pytest

from mcp_tap.protocol.events import ExchangeOpened, Fault
from mcp_tap.protocol.redaction import RedactionRules, Redactor
from mcp_tap.protocol.secrets import (
    is_secret_name,
    redact_command,
    redact_header_line,
    redact_query,
    redact_text,
    redact_url,
)


@pytest.mark.parametrize(
    "name",
    [
        "key",
        "api_key",
        "apikey",
        "API-KEY",
        "apiKey",
        "token",
        "access_token",
        "auth",
        "sig",
        "signature",
        "X-Amz-Signature",
        "secret",
        "client_secret",
        "password",
        "pass",
        "pwd",
        "code",
        "session",
        "credentials",
        "--bearer",
        "--pat",
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["cursor", "session_id", "sessionId", "page", "limit", "author", "port", "--verbose"]
)
def test_names_that_are_not_secrets(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("query", "redacted"),
    [
        ("api_key=S", "api_key=<redacted:api_key>"),
        ("key=S", "key=<redacted:key>"),
        ("sig=S", "sig=<redacted:sig>"),
        ("Api-Key=S", "Api-Key=<redacted:api-key>"),
        ("apikey=S", "apikey=<redacted:apikey>"),
        ("access_token=S&page=2", "access_token=<redacted:access_token>&page=2"),
        ("cursor=abc&token=S", "cursor=abc&token=<redacted:token>"),
    ],
)
def test_query_values(query: str, redacted: str) -> None:
    assert redact_query(f"/mcp?{query}") == f"/mcp?{redacted}"


def test_query_keeps_every_other_byte_and_redacts_the_fragment() -> None:
    assert redact_query("/cb?x=%20&flag&code=S#access_token=T&state=1") == (
        "/cb?x=%20&flag&code=<redacted:code>#access_token=<redacted:access_token>&state=1"
    )


def test_url_password_and_query() -> None:
    assert redact_url("https://me:S@host:8443/mcp?key=K&q=1") == (
        "https://me:<redacted:password>@host:8443/mcp?key=<redacted:key>&q=1"
    )
    assert (
        redact_url("https://ghp_abc@github.com/x") == "https://<redacted:credential>@github.com/x"
    )


@pytest.mark.parametrize(
    ("line", "redacted"),
    [
        ("Authorization: Bearer S", "Authorization: Bearer <redacted:authorization>"),
        ("Authorization:Bearer S", "Authorization:Bearer <redacted:authorization>"),
        ("X-Api-Key: S", "X-Api-Key: <redacted:x-api-key>"),
        ("Cookie: a=S", "Cookie: <redacted:cookie>"),
        ("Accept: text/plain", "Accept: text/plain"),
    ],
)
def test_header_lines(line: str, redacted: str) -> None:
    assert redact_header_line(line) == redacted


def test_command_in_every_flag_form() -> None:
    argv = [
        "npx",
        "mcp-remote",
        "https://host/mcp",
        "--header",
        "Authorization:Bearer S1",
        "-H",
        "Authorization: Bearer S2",
        "--header=X-Api-Key:S3",
        "--bearer",
        "S4",
        "--key",
        "S5",
        "--pat",
        "S6",
        "https://host/x?api_key=S7&page=2",
        "--token=S8",
        "--api-key",
        "S9",
        "--password",
        "S10",
        "--secret",
        "S11",
        "--client-secret",
        "S12",
        "API_KEY=S13",
        "https://me:S14@host/",
        "--config",
        '{"token": "S15", "port": 1}',
        "ghp_S16",
        "--verbose",
        "--port",
        "8080",
    ]
    assert redact_command(argv) == [
        "npx",
        "mcp-remote",
        "https://host/mcp",
        "--header",
        "Authorization:Bearer <redacted:authorization>",
        "-H",
        "Authorization: Bearer <redacted:authorization>",
        "--header=X-Api-Key:<redacted:x-api-key>",
        "--bearer",
        "<redacted:bearer>",
        "--key",
        "<redacted:key>",
        "--pat",
        "<redacted:pat>",
        "https://host/x?api_key=<redacted:api_key>&page=2",
        "--token=<redacted:token>",
        "--api-key",
        "<redacted:api-key>",
        "--password",
        "<redacted:password>",
        "--secret",
        "<redacted:secret>",
        "--client-secret",
        "<redacted:client-secret>",
        "API_KEY=<redacted:api_key>",
        "https://me:<redacted:password>@host/",
        "--config",
        '{"token": "<redacted:token>", "port": 1}',
        "<redacted:credential>",
        "--verbose",
        "--port",
        "8080",
    ]


def test_text_quoting_a_url() -> None:
    text = "upstream http://h:1/mcp?api_key=S is unreachable; GET /x?sig=T: too large"
    assert redact_text(text) == (
        "upstream http://h:1/mcp?api_key=<redacted:api_key> is unreachable; "
        "GET /x?sig=<redacted:sig>: too large"
    )


def test_redactor_events_with_and_without_session_pseudonyms() -> None:
    opened = ExchangeOpened(
        1, 0.0, "GET", "/sse?session_id=abc&key=S", (("authorization", "Bearer T"),), "abc"
    )
    recorded = Redactor()(opened)
    assert recorded.target == "/sse?session_id=session-1&key=<redacted:key>"
    assert recorded.headers == (("authorization", "<redacted:authorization>"),)
    assert recorded.session_id == "session-1"
    shown = Redactor(sessions=False)(opened)
    assert shown.target == "/sse?session_id=abc&key=<redacted:key>"
    assert shown.session_id == "abc"
    fault = Fault(0.0, 1, "upstream-unreachable", "upstream http://h/mcp?token=S refused")
    assert Redactor()(fault).detail == "upstream http://h/mcp?token=<redacted:token> refused"


def test_no_redact_keeps_everything_but_the_named_headers() -> None:
    opened = ExchangeOpened(
        1, 0.0, "GET", "/mcp?key=S", (("authorization", "T"), ("x-mine", "U")), None
    )
    rules = RedactionRules.from_options(enabled=False, headers=["X-Mine"])
    redacted = Redactor(rules)(opened)
    assert redacted.target == "/mcp?key=S"
    assert redacted.headers == (("authorization", "T"), ("x-mine", "<redacted:x-mine>"))
    assert Redactor(rules).command(["srv", "--token", "S"]) == ["srv", "--token", "S"]

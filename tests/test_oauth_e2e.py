"""OAuth end to end: the `mcp` SDK's client and server-side auth, through mcp-tap.

The demo server is an OAuth-protected resource (the SDK's bearer check and protected-resource
metadata, `tests/oauth_server.py`) with an auto-approving authorization server beside it, both
on `https://localhost` with a CA made by the test. The client (`tests/clients/oauth_client.py`)
is the SDK's `OAuthClientProvider`; it plays the user by requesting the authorization URL
and reading the 302.

Through `proxy --forward` (HTTPS_PROXY, the server's own URL) the whole flow completes and is
recorded with its secrets redacted. Through the reverse proxy (`--target`) the client refuses
the metadata: its `resource` is the server's URL, not the proxy's (RFC 9728), which is why
forward mode exists.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mcp_tap.protocol.events import (
    Direction,
    ExchangeOpened,
    Finding,
    MessageSeen,
    ResponseStarted,
    TapEvent,
    header,
)
from mcp_tap.recording.reader import load_recording
from tests.procs import ROOT, Proc
from tests.test_forward import client_env, start_forward
from tests.testca import ServerFiles, make_server_files

pytestmark = pytest.mark.timeout(120)

OAUTH_CLIENT = ROOT / "tests" / "clients" / "oauth_client.py"
EXPIRES_IN = 2  # seconds: short, so the client's second request refreshes its token


@dataclass
class OAuthServer:
    proc: Proc
    resource: str  # https://localhost:P/mcp
    issuer: str  # https://localhost:Q
    secrets: Path  # what the authorization server issued and received, one JSON line each

    def issued(self) -> list[tuple[str, str]]:
        lines = self.secrets.read_text().splitlines() if self.secrets.exists() else []
        return [(d["kind"], d["value"]) for d in map(json.loads, lines)]


@pytest.fixture
def server_files(tmp_path: Path) -> ServerFiles:
    return make_server_files(tmp_path / "certs")


@pytest.fixture
def oauth_server(tmp_path: Path, server_files: ServerFiles) -> Iterator[OAuthServer]:
    secrets = tmp_path / "issued.jsonl"
    proc = Proc(
        [sys.executable, "-m", "tests.oauth_server", str(server_files.cert),
         str(server_files.key), str(secrets), "--expires-in", str(EXPIRES_IN)],
        cwd=ROOT,
    )  # fmt: skip
    try:
        resource = proc.wait_for_line(r"resource (\S+)").group(1)
        issuer = proc.wait_for_line(r"issuer (\S+)").group(1)
        yield OAuthServer(proc, resource, issuer, secrets)
    finally:
        proc.stop()


def run_client(url: str, env: dict[str, str], *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    done = subprocess.run(
        [sys.executable, str(OAUTH_CLIENT), url, *extra],
        capture_output=True, text=True, timeout=90, check=False, cwd=ROOT,
        env={**_base_env(), **env},
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, lines, done.stderr


def _base_env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return {**keep, "PYTHONUNBUFFERED": "1"}


def _exchanges(events: list[TapEvent]) -> dict[int, ExchangeOpened]:
    return {e.exchange_id: e for e in events if isinstance(e, ExchangeOpened)}


def _status(events: list[TapEvent], exchange_id: int) -> ResponseStarted:
    return next(
        e for e in events if isinstance(e, ResponseStarted) and e.exchange_id == exchange_id
    )


def test_oauth_flow_through_the_forward_proxy_completes_streams_and_is_redacted(
    tmp_path: Path, server_files: ServerFiles, oauth_server: OAuthServer
) -> None:
    fwd = start_forward(tmp_path, server_files.ca)
    try:
        code, lines, stderr = run_client(
            oauth_server.resource, client_env(fwd), "--refresh-after", str(EXPIRES_IN + 0.5)
        )
    finally:
        fwd.proc.stop(signal.SIGINT)
    assert code == 0, (lines, stderr, fwd.proc.stderr)
    assert "Traceback" not in fwd.proc.stderr

    # The SDK's own view: the call succeeded, with progress before the result.
    result = next(e for e in lines if e["event"] == "result")
    assert "report.pdf" in result["text"] and not result["is_error"]
    progress = [e for e in lines if e["event"] == "progress"]
    assert progress and all(p["t"] < result["t"] for p in progress)
    assert any(e["event"] == "tools" for e in lines)  # the refreshed token was accepted

    recording = load_recording(fwd.record)
    events = recording.events
    opened = _exchanges(events)
    mcp_origin = oauth_server.resource.removesuffix("/mcp")

    # Every progress notification of the call is recorded before its result, as it streamed.
    call = next(
        e for e in events
        if isinstance(e, MessageSeen) and e.message.method == "tools/call"
    )  # fmt: skip
    ours = [e for e in events if isinstance(e, MessageSeen) and e.exchange_id == call.exchange_id]
    notes = [e for e in ours if e.message.method == "notifications/progress"]
    answer = next(
        e for e in ours
        if e.direction is Direction.SERVER_TO_CLIENT and e.message.method is None
        and isinstance(e.message.payload, dict) and "result" in e.message.payload
    )  # fmt: skip
    assert [n.message.payload["params"]["progress"] for n in notes] == [1, 2, 3, 4, 5]
    assert all(n.time < answer.time for n in notes)
    assert notes[0].time < answer.time - 0.1  # recorded as they came, not at the end
    assert len(progress) <= len(notes)

    # The flow, exchange by exchange, with the origins the client really used.
    def first(method: str, origin: str, target: str) -> ExchangeOpened:
        return next(
            e for e in opened.values()
            if e.method == method and e.origin == origin and e.target.startswith(target)
        )  # fmt: skip

    challenge = next(
        e for e in events
        if isinstance(e, ResponseStarted) and e.status == 401
        and opened[e.exchange_id].origin == mcp_origin
    )  # fmt: skip
    www = header(challenge.headers, "www-authenticate")
    assert www is not None
    assert f"{mcp_origin}/.well-known/oauth-protected-resource/mcp" in www
    prm = first("GET", mcp_origin, "/.well-known/oauth-protected-resource/mcp")
    assert _status(events, prm.exchange_id).status == 200
    asm = first("GET", oauth_server.issuer, "/.well-known/oauth-authorization-server")
    assert _status(events, asm.exchange_id).status == 200
    reg = first("POST", oauth_server.issuer, "/register")
    assert _status(events, reg.exchange_id).status == 201
    authorize = first("GET", oauth_server.issuer, "/authorize")
    assert _status(events, authorize.exchange_id).status == 302
    tokens = [
        e for e in opened.values() if e.origin == oauth_server.issuer and e.target == "/token"
    ]
    assert [_status(events, t.exchange_id).status for t in tokens] == [200, 200]

    # The view's OAuth lines: one info finding a step, nothing the spec forbids.
    findings = [e for e in events if isinstance(e, Finding) and e.rule.startswith("oauth-")]
    assert [f.rule for f in findings] == [
        "oauth-challenge",
        "oauth-resource-metadata",
        "oauth-server-metadata",
        "oauth-registration",
        "oauth-authorization",
        "oauth-token",
        "oauth-token",
    ], [(f.rule, f.detail) for f in findings]
    assert all(f.severity == "info" for f in findings)
    assert "grant_type=authorization_code" in findings[5].detail
    assert "token refresh" in findings[6].detail
    shown = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "show", str(fwd.record)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**_base_env(), "NO_COLOR": "1", "COLUMNS": "200"},
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    for rule in ("oauth-challenge", "oauth-registration", "oauth-authorization", "oauth-token"):
        assert rule in shown.stdout, shown.stdout

    # No secret the authorization server issued or received is in the file, in any form.
    issued = oauth_server.issued()
    kinds = {kind for kind, _ in issued}
    assert kinds == {"client_secret", "code", "code_verifier", "access_token", "refresh_token"}
    assert sum(kind == "access_token" for kind, _ in issued) == 2  # first and refreshed
    text = fwd.record.read_text()
    for kind, value in issued:
        assert value not in text, f"the recording holds a {kind}"
    for kind in ("client_secret", "code_verifier", "access_token", "refresh_token"):
        assert f"<redacted:{kind}>" in text, kind


def test_the_same_client_through_the_reverse_proxy_fails_the_resource_check(
    tmp_path: Path, server_files: ServerFiles, oauth_server: OAuthServer
) -> None:
    record = tmp_path / "reverse.yaml"
    proxy = Proc(
        [sys.executable, "-m", "mcp_tap", "proxy", "--port", "0", "--target",
         oauth_server.resource, "--record", str(record)],
        cwd=tmp_path, env={"SSL_CERT_FILE": str(server_files.ca)},
    )  # fmt: skip
    try:
        url = proxy.wait_for_line(r"point your client at (\S+) - forwarding").group(1)
        # The client trusts the server's CA: it may fetch what the 401 points it to.
        env = {"NO_PROXY": "*", "SSL_CERT_FILE": str(server_files.ca)}
        code, lines, stderr = run_client(url, env)
        # The SEP-985 fallback a client without `resource_metadata` in the challenge takes:
        # the metadata at the well-known path of the URL it was given, so through the proxy.
        origin = url.removesuffix("/mcp")
        with httpx2.Client(trust_env=False, timeout=20) as http:
            fetched = http.get(origin + "/.well-known/oauth-protected-resource/mcp")
        assert fetched.json()["resource"] == oauth_server.resource
    finally:
        proxy.stop(signal.SIGINT)
    assert code == 1, (lines, stderr, proxy.stderr)
    error = next(e for e in lines if e["event"] == "error")
    assert error["type"] == "OAuthFlowError"
    assert error["message"] == (
        f"Protected resource {oauth_server.resource} does not match expected {url}"
    )
    assert not oauth_server.issued()  # it never got as far as the authorization server

    events = load_recording(record).events
    # The SDK server's challenge names its metadata by its own absolute URL, so the client
    # fetched that around the proxy; mcp-tap saw the 401 and says where it points.
    challenges = [e for e in events if isinstance(e, Finding) and e.rule == "oauth-challenge"]
    assert challenges and all(
        f"{oauth_server.resource.removesuffix('/mcp')}/.well-known/oauth-protected-resource/mcp"
        in c.detail
        for c in challenges
    )
    mismatch = [e for e in events if isinstance(e, Finding) and e.rule == "oauth-resource-mismatch"]
    assert len(mismatch) == 1 and mismatch[0].severity == "error"
    assert f"resource {oauth_server.resource}, but the client used {url}" in mismatch[0].detail
    assert "--forward" in mismatch[0].detail

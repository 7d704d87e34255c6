"""`mcp-tap proxy --forward`: real HTTPS servers with a test CA, reached through the proxy.

Everything runs on loopback: the demo server behind TLS (`tests/tls_server.py`) with a CA
made by the test, mcp-tap told to trust that CA (`SSL_CERT_FILE`), and clients that trust
mcp-tap's bundle and reach the server by its own `https://localhost:PORT` URL through
`HTTPS_PROXY`. `NO_PROXY` is set empty so no client skips the proxy for localhost.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml

from tests.procs import PY_CLIENT, ROOT, Proc, demo_server
from tests.testca import ServerFiles, make_server_files

pytestmark = pytest.mark.timeout(90)


class Forward:
    """A running `mcp-tap proxy --forward` and what it printed."""

    def __init__(self, proc: Proc, url: str, env: dict[str, str], ca_dir: Path, record: Path):
        self.proc = proc
        self.url = url
        self.env = env  # what it told clients to set
        self.ca_dir = ca_dir
        self.record = record

    def events(self) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(self.record.read_text()) if d and "type" in d]


def start_tls_server(files: ServerFiles, app: str = "demo") -> Proc:
    proc = Proc(
        [sys.executable, "-m", "tests.tls_server", str(files.cert), str(files.key), app], cwd=ROOT
    )
    proc.wait_for_line(r"serving https://localhost:\d+")
    return proc


def server_url(proc: Proc) -> str:
    return next(m.group(0) for line in proc.lines if (m := re.search(r"https://\S+", line)))


@pytest.fixture
def server_files(tmp_path: Path) -> ServerFiles:
    return make_server_files(tmp_path / "certs")


@pytest.fixture
def tls_demo(server_files: ServerFiles) -> Iterator[str]:
    proc = start_tls_server(server_files)
    try:
        yield server_url(proc)
    finally:
        proc.stop()


def start_forward(tmp_path: Path, trust: Path | None, *extra: str) -> Forward:
    ca_dir = tmp_path / "mcp-tap-ca"
    record = tmp_path / "forward.yaml"
    env = {"SSL_CERT_FILE": str(trust)} if trust is not None else {}
    args = [sys.executable, "-m", "mcp_tap", "proxy", "--forward", "--port", "0"]
    args += ["--ca-dir", str(ca_dir), "--record", str(record), *extra]
    proc = Proc(args, cwd=tmp_path, env=env)
    url = proc.wait_for_line(r"forward proxy listening on (\S+)").group(1)
    line = proc.wait_for_line(r"HTTPS_PROXY=").string
    told = dict(item.split("=", 1) for item in line.split())
    return Forward(proc, url, told, ca_dir, record)


@pytest.fixture
def forward(tmp_path: Path, server_files: ServerFiles) -> Iterator[Forward]:
    fwd = start_forward(tmp_path, server_files.ca)
    try:
        yield fwd
    finally:
        fwd.proc.stop(signal.SIGINT)


def client_env(fwd: Forward) -> dict[str, str]:
    """What the user sets: the printed variables (NO_PROXY empty: localhost goes through too)."""
    return {**fwd.env, "no_proxy": "", "https_proxy": fwd.env["HTTPS_PROXY"]}


def test_the_start_line_names_the_proxy_and_the_trust_files(forward: Forward) -> None:
    assert forward.env["HTTPS_PROXY"] == forward.url
    assert forward.env["HTTP_PROXY"] == forward.url
    assert forward.env["SSL_CERT_FILE"] == str(forward.ca_dir / "bundle.pem")
    assert forward.env["NODE_EXTRA_CA_CERTS"] == str(forward.ca_dir / "ca.pem")
    key = forward.ca_dir / "ca-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    bundle = Path(forward.env["SSL_CERT_FILE"]).read_text()
    assert (forward.ca_dir / "ca.pem").read_text() in bundle


def test_sdk_client_through_forward_proxy_streams_progress_and_records_the_host(
    tls_demo: str, forward: Forward
) -> None:
    url = tls_demo + "/mcp"
    arguments = {"filename": "report.pdf", "size_mb": 5}
    client = Proc(
        [sys.executable, str(PY_CLIENT), url, "--tool", "download_file", "--args",
         json.dumps(arguments)],
        env=client_env(forward),
    )  # fmt: skip
    assert client.finish(60) == 0, client.stderr
    lines = [json.loads(line) for line in client.lines if line.startswith("{")]
    progress = [e for e in lines if e["event"] == "progress"]
    result = next(e for e in lines if e["event"] == "result")
    assert len(progress) >= 5 and "report.pdf" in result["text"]
    assert progress[0]["t"] < result["t"] - 0.1  # the first came long before the answer

    # What an OAuth client fetches first: not MCP, so replay leaves it out.
    context = ssl.create_default_context(cafile=str(forward.ca_dir / "ca.pem"))
    with httpx2.Client(proxy=forward.url, verify=context, trust_env=False, timeout=20) as http:
        http.get(tls_demo + "/.well-known/oauth-protected-resource/mcp")
        http.post(tls_demo + "/token", content=b"grant_type=refresh_token&refresh_token=RT")

    forward.proc.stop(signal.SIGINT)
    assert "Traceback" not in forward.proc.stderr
    assert "refresh_token=RT" not in forward.record.read_text()
    with demo_server() as plain:
        replayed = subprocess.run(
            [sys.executable, "-m", "mcp_tap", "replay", str(forward.record),
             "--target", plain + "/mcp", "--fast"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    events = forward.events()
    host = tls_demo.removeprefix("https://")
    opened = [e for e in events if e["type"] == "exchange-opened"]
    assert [e["target"] for e in opened][-2:] == [
        "/.well-known/oauth-protected-resource/mcp",
        "/token",
    ]
    assert opened and all(e["origin"] == tls_demo for e in opened)
    assert all(dict(e["headers"])["host"] == host for e in opened)
    call = next(
        e for e in events
        if e["type"] == "message" and e["message"].get("json", {}).get("method") == "tools/call"
    )  # fmt: skip
    ours = [e for e in events if e.get("exchange_id") == call["exchange_id"]]
    notes = [e for e in ours if e["type"] == "message" and "progress" in json.dumps(e["message"])
             and e["message"]["json"].get("method") == "notifications/progress"]  # fmt: skip
    answer = next(
        e for e in ours if e["type"] == "message" and "result" in e["message"].get("json", {})
    )
    assert len(notes) == len(progress)
    assert all(n["time"] < answer["time"] for n in notes)
    assert notes[0]["time"] < answer["time"] - 0.1  # recorded as they streamed, not at the end


def test_bad_upstream_certificate_is_a_502_naming_it_and_a_fault(
    tmp_path: Path, tls_demo: str
) -> None:
    other = make_server_files(tmp_path / "other", label="other")  # not the demo server's CA
    fwd = start_forward(tmp_path, other.ca)
    try:
        context = ssl.create_default_context(cafile=str(fwd.ca_dir / "ca.pem"))
        with httpx2.Client(proxy=fwd.url, verify=context, trust_env=False, timeout=20) as http:
            response = http.post(
                tls_demo + "/mcp",
                json={"jsonrpc": "2.0", "id": 7, "method": "ping"},
                headers={"accept": "application/json, text/event-stream"},
            )
        assert response.status_code == 502
        error = response.json()
        assert error["id"] == 7
        assert "certificate not trusted" in error["error"]["message"]
        fwd.proc.wait_for_line(r"upstream-untrusted")
    finally:
        fwd.proc.stop(signal.SIGINT)
    faults = [e for e in fwd.events() if e["type"] == "fault"]
    assert [f["kind"] for f in faults] == ["upstream-untrusted"]
    assert "certificate not trusted" in faults[0]["detail"]


class EchoServer:
    """A TCP server that sends back every byte it reads, and half-closes after its peer."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()


def test_a_host_not_allowed_is_tunnelled_byte_for_byte(tmp_path: Path) -> None:
    echo = EchoServer()
    fwd = start_forward(tmp_path, None, "--allow-host", "*.example.com")
    try:
        proxy_port = int(fwd.url.rsplit(":", 1)[1])
        payload = os.urandom(300_000) + b"\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"  # not HTTP, not TLS
        with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as sock:
            sock.sendall(f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(1)
            assert head.startswith(b"HTTP/1.1 200 ")
            sender = threading.Thread(target=lambda: (sock.sendall(payload),
                                                      sock.shutdown(socket.SHUT_WR)))  # fmt: skip
            sender.start()
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            sender.join()
        assert received == payload
        fwd.proc.wait_for_line(r"host-tunnelled")
    finally:
        fwd.proc.stop(signal.SIGINT)
        echo.close()
    events = fwd.events()
    assert not [e for e in events if e["type"] == "exchange-opened"]
    tunnelled = [e for e in events if e["type"] == "finding" and e["rule"] == "host-tunnelled"]
    assert len(tunnelled) == 1 and f"127.0.0.1:{echo.port}" in tunnelled[0]["detail"]


def test_tls_to_a_tunnelled_host_is_the_servers_own(
    tmp_path: Path, server_files: ServerFiles
) -> None:
    server = start_tls_server(server_files, "echo")
    fwd = start_forward(tmp_path, None, "--allow-host", "*.example.com")
    try:
        # The client trusts only the server's CA: a certificate minted by mcp-tap would fail.
        context = ssl.create_default_context(cafile=str(server_files.ca))
        with httpx2.Client(proxy=fwd.url, verify=context, trust_env=False, timeout=20) as http:
            response = http.post(server_url(server) + "/echo", content=b"grant_type=secret")
        assert response.text == "POST /echo grant_type=secret"
    finally:
        fwd.proc.stop(signal.SIGINT)
        server.stop()


def test_a_plain_request_to_the_forward_proxy_is_told_what_it_is(forward: Forward) -> None:
    response = httpx2.get(forward.url + "/mcp", timeout=10, trust_env=False)
    assert response.status_code == 400
    assert "forward proxy" in response.json()["error"]["message"]


def test_ca_command_makes_shows_and_renews_the_ca(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"

    def ca(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mcp_tap", "ca", "--ca-dir", str(ca_dir), *args],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip

    first = ca()
    assert first.returncode == 0 and "made now" in first.stdout
    fingerprint = re.search(r"SHA256 (\S+)", first.stdout)
    assert fingerprint is not None
    assert stat.S_IMODE((ca_dir / "ca-key.pem").stat().st_mode) == 0o600
    assert ca("--path").stdout.strip() == str(ca_dir / "ca.pem")
    again = ca()
    assert "made earlier" in again.stdout and fingerprint.group(1) in again.stdout
    renewed = ca("--regenerate")
    assert renewed.returncode == 0 and fingerprint.group(1) not in renewed.stdout

    (ca_dir / "ca.pem").write_text("not a certificate")
    broken = ca()
    assert broken.returncode == 2
    assert broken.stderr.count("\n") == 1 and "--regenerate" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_forward_and_target_together_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "proxy", "--forward", "--target", "http://x/mcp"],
        capture_output=True, text=True, timeout=30, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--forward" in done.stderr

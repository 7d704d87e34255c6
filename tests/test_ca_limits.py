"""mcp-tap's CA signs server certificates only, and with --ca-name-constraints only some hosts.

The CA is made by a real `mcp-tap ca` process; leaves are signed with its key from disk and
judged by the real `openssl verify`, with the CA certificate as the only trust anchor.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import shutil
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mcp_tap.http.ca import load_or_create_ca
from tests.test_forward import server_url, start_forward, start_tls_server
from tests.testca import make_server_files

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


def mcp_tap_ca(ca_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", "ca", "--ca-dir", str(ca_dir), *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def verify(ca_dir: Path, leaf: Path, purpose: str) -> subprocess.CompletedProcess[str]:
    """`openssl verify` of `leaf` for `purpose`, trusting mcp-tap's CA certificate alone."""
    return subprocess.run(
        ["openssl", "verify", "-no-CApath", "-no-CAstore", "-CAfile", str(ca_dir / "ca.pem"),
         "-purpose", purpose, str(leaf)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def ca_leaf(ca_dir: Path, host: str, out: Path) -> Path:
    """The certificate mcp-tap's forward proxy would present for `host`."""
    ca = load_or_create_ca(ca_dir).ca
    leaf = ca.leaf_certificate(host, ec.generate_private_key(ec.SECP256R1()))
    out.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return out


def other_leaf(ca_dir: Path, usages: list[x509.ObjectIdentifier] | None, out: Path) -> Path:
    """A leaf anyone holding the CA key could sign: any usage (None: no usage at all)."""
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / "ca-key.pem").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("someone.test")]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if usages is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    out.write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    return out


def test_a_leaf_of_the_ca_is_good_for_a_tls_server_and_nothing_else(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    made = mcp_tap_ca(ca_dir)
    assert made.returncode == 0, made.stderr
    assert "server certificates only, for any host" in made.stdout
    leaf = ca_leaf(ca_dir, "mcp.example.com", tmp_path / "leaf.pem")

    server = verify(ca_dir, leaf, "sslserver")
    assert server.returncode == 0 and ": OK" in server.stdout, server.stdout + server.stderr
    for purpose in ("sslclient", "smimesign"):
        refused = verify(ca_dir, leaf, purpose)
        assert refused.returncode != 0, purpose
        assert "unsuitable certificate purpose" in refused.stderr


@pytest.mark.parametrize(
    "usages",
    [None, [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]],
    ids=["no-usage", "client-and-email"],
)
def test_whatever_else_its_key_signs_is_refused_for_clients_and_mail(
    tmp_path: Path, usages: list[x509.ObjectIdentifier] | None
) -> None:
    ca_dir = tmp_path / "ca"
    assert mcp_tap_ca(ca_dir).returncode == 0
    leaf = other_leaf(ca_dir, usages, tmp_path / "leaf.pem")
    for purpose in ("sslclient", "smimesign"):
        refused = verify(ca_dir, leaf, purpose)
        assert refused.returncode != 0, purpose
        # Depth 1: the CA's own usage is what refuses it, whatever the leaf claims.
        assert "at 1 depth lookup: unsuitable certificate purpose" in refused.stderr


def test_name_constraints_refuse_a_leaf_for_any_other_host(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    made = mcp_tap_ca(
        ca_dir, "--ca-name-constraints", "--allow-host", "mcp.example.com",
        "--allow-host", "*.auth0.com",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "for auth0.com, mcp.example.com and their subdomains" in made.stdout

    for host in ("mcp.example.com", "tenant.auth0.com"):
        good = verify(ca_dir, ca_leaf(ca_dir, host, tmp_path / f"{host}.pem"), "sslserver")
        assert good.returncode == 0, good.stdout + good.stderr
    for host in ("example.com", "mcp.example.com.evil.test", "127.0.0.1"):
        bad = verify(ca_dir, ca_leaf(ca_dir, host, tmp_path / f"{host}.pem"), "sslserver")
        assert bad.returncode != 0, host
        assert re.search(r"(permitted|excluded) subtree violation", bad.stdout + bad.stderr), host


def test_name_constraints_that_cannot_be_expressed_are_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    for args in (
        ["--ca-name-constraints"],
        ["--ca-name-constraints", "--allow-host", "mcp*.example.com"],
        ["--ca-name-constraints", "--allow-host", "127.0.0.1"],
        ["--allow-host", "mcp.example.com"],
    ):
        done = mcp_tap_ca(tmp_path / "ca", *args)
        assert done.returncode == 2, args
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, args
    assert not (tmp_path / "ca" / "ca.pem").exists()


def old_ca(ca_dir: Path) -> bytes:
    """A CA as mcp-tap made it before it limited its usage: no Extended Key Usage."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcp-tap local CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=300))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    ca_dir.mkdir(mode=0o700)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (ca_dir / "ca.pem").write_bytes(pem)
    (ca_dir / "ca-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem


def test_a_ca_made_before_the_usage_limit_is_replaced_and_the_user_told(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    before = old_ca(ca_dir)
    shown = mcp_tap_ca(ca_dir)
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr.count("\n") == 1 and "earlier mcp-tap" in shown.stderr
    assert "need this one" in shown.stderr and "made now" in shown.stdout
    assert (ca_dir / "ca.pem").read_bytes() != before
    leaf = other_leaf(ca_dir, None, tmp_path / "leaf.pem")
    assert verify(ca_dir, leaf, "sslclient").returncode != 0
    again = mcp_tap_ca(ca_dir)
    assert again.stderr == "" and "made earlier" in again.stdout


def test_forward_proxy_with_a_limited_ca_reads_its_host(tmp_path: Path) -> None:
    files = make_server_files(tmp_path / "certs")
    server = start_tls_server(files)
    limited = ["--allow-host", "localhost", "--ca-name-constraints"]
    fwd = start_forward(tmp_path, files.ca, *limited)
    try:
        # The client trusts mcp-tap's CA alone, and OpenSSL applies its name constraints.
        context = ssl.create_default_context(cafile=str(fwd.ca_dir / "ca.pem"))
        with httpx2.Client(proxy=fwd.url, verify=context, trust_env=False, timeout=20) as http:
            response = http.post(
                server_url(server) + "/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={"accept": "application/json, text/event-stream"},
            )
        assert response.status_code != 502, response.text
    finally:
        fwd.proc.stop(signal.SIGINT)
        server.stop()
    assert "Traceback" not in fwd.proc.stderr
    assert any(e["type"] == "exchange-opened" for e in fwd.events())

    # The limited CA is not used for every host unasked.
    refused = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "proxy", "--forward", "--port", "0", "--no-record",
         "--ca-dir", str(fwd.ca_dir)],
        capture_output=True, text=True, timeout=30, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "--ca-name-constraints" in refused.stderr


def test_name_constraints_without_forward_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "proxy", "--target", "http://127.0.0.1:9/mcp",
         "--port", "0", "--no-record", "--allow-host", "x.test", "--ca-name-constraints"],
        capture_output=True, text=True, timeout=30, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--forward" in done.stderr


def test_an_address_leaf_is_still_made_without_name_constraints(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    assert mcp_tap_ca(ca_dir).returncode == 0
    leaf = ca_leaf(ca_dir, "127.0.0.1", tmp_path / "leaf.pem")
    assert verify(ca_dir, leaf, "sslserver").returncode == 0
    parsed = x509.load_pem_x509_certificate(leaf.read_bytes())
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]

"""mcp-tap's own certificate authority: what lets the forward proxy read a client's HTTPS.

A client that goes through `mcp-tap proxy --forward` asks for `CONNECT host:443`; the proxy
answers the TLS inside itself, with a certificate for `host` signed by this CA, which the
client trusts because the user told it to (`SSL_CERT_FILE`, `NODE_EXTRA_CA_CERTS`). The CA is
made once and kept in the user's config directory: `ca.pem` (the certificate, public),
`ca-key.pem` (its key, mode 0600) and `bundle.pem` (the system's CAs plus this one, for
clients where `SSL_CERT_FILE` replaces the system store). Leaf certificates are minted on the
fly, one per host name, and kept in memory only.

The CA certificate may sign server certificates only (Extended Key Usage `serverAuth`, which
verifiers apply to everything below it) and, with `--ca-name-constraints`, only for the
`--allow-host` names (`ca_names.py`). A CA on disk made before it carried that usage is
replaced when it is next opened, and one limited to other names is replaced when other names
are asked for; the caller tells the user why.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import ipaddress
import os
import shutil
import ssl
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mcp_tap.http.ca_names import name_constraints, names_of
from mcp_tap.http.limits import DEFAULT_MAX_CERTS

CA_DIR_ENV = "MCP_TAP_CA_DIR"
CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
BUNDLE = "bundle.pem"
CA_NAME = "mcp-tap local CA"
CA_YEARS = 10
LEAF_DAYS = 397  # the longest validity clients accept for a server certificate


class CAError(Exception):
    """The CA cannot be read or written: one line for the user."""


def default_ca_dir() -> Path:
    """`$MCP_TAP_CA_DIR`, else `$XDG_CONFIG_HOME/mcp-tap`, else `~/.config/mcp-tap`."""
    explicit = os.environ.get(CA_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config).expanduser() / "mcp-tap"


def system_ca_files() -> list[Path]:
    """Where this machine's trusted CAs are: certifi's bundle if installed, else OpenSSL's.

    `SSL_CERT_FILE` is included when set, so a private CA mcp-tap itself was told to trust
    (a test server's) is trusted by the clients that use the bundle too.
    """
    files: list[Path] = []
    try:
        certifi = importlib.import_module("certifi")  # optional: not a dependency
        files.append(Path(certifi.where()))
    except ImportError:
        paths = ssl.get_default_verify_paths()
        for name in (paths.openssl_cafile, paths.cafile):
            if name and Path(name).is_file():
                files.append(Path(name))
                break
    extra = os.environ.get("SSL_CERT_FILE")
    if extra and Path(extra).is_file():
        files.append(Path(extra))
    unique: list[Path] = []
    for path in files:
        if path.resolve() not in [p.resolve() for p in unique]:
            unique.append(path)
    return unique


class LocalCA:
    """The CA's certificate and key, and the leaf certificates minted from them."""

    def __init__(
        self,
        directory: Path,
        cert: x509.Certificate,
        key: ec.EllipticCurvePrivateKey,
        max_certs: int = DEFAULT_MAX_CERTS,
    ) -> None:
        self.directory = directory
        self.cert = cert
        self.key = key
        self.max_certs = max_certs
        self._leaf_key: ec.EllipticCurvePrivateKey | None = None
        self._contexts: OrderedDict[str, ssl.SSLContext] = OrderedDict()
        self._scratch: Path | None = None

    @property
    def cert_path(self) -> Path:
        return self.directory / CA_CERT

    @property
    def key_path(self) -> Path:
        return self.directory / CA_KEY

    @property
    def bundle_path(self) -> Path:
        return self.directory / BUNDLE

    @property
    def names(self) -> tuple[str, ...] | None:
        """The DNS names (and their subdomains) it may sign for; None: any host."""
        return names_of(self.cert)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate, as browsers and `openssl x509 -fingerprint` show it."""
        digest = hashlib.sha256(self.cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()

    def write_bundle(self) -> Path:
        """`bundle.pem`: the system's CAs and this one, for `SSL_CERT_FILE`."""
        own = self.cert.public_bytes(serialization.Encoding.PEM)
        parts: list[bytes] = []
        for path in system_ca_files():
            try:
                parts.append(path.read_bytes().rstrip(b"\n") + b"\n")
            except OSError:
                continue
        parts.append(own)
        _write_atomic(self.bundle_path, b"".join(parts), 0o644)
        return self.bundle_path

    def server_context(self, host: str) -> ssl.SSLContext:
        """The TLS server side for `host`; a client's SNI naming another host gets its own."""
        return self.leaf_context(host)

    def leaf_context(self, host: str) -> ssl.SSLContext:
        """A server context presenting a certificate for `host` (cached, least recent out)."""
        host = host.lower().rstrip(".")
        context = self._contexts.get(host)
        if context is not None:
            self._contexts.move_to_end(host)
            return context
        context = self._make_context(host)
        self._contexts[host] = context
        while len(self._contexts) > self.max_certs:
            self._contexts.popitem(last=False)
        return context

    def close(self) -> None:
        """Remove the scratch directory leaf files pass through."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _make_context(self, host: str) -> ssl.SSLContext:
        if self._leaf_key is None:
            self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        cert = self.leaf_certificate(host, self._leaf_key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_alpn_protocols(["http/1.1"])  # the relay speaks HTTP/1.1 only
        context.sni_callback = self._on_sni
        pem = (
            cert.public_bytes(serialization.Encoding.PEM)
            + self.cert.public_bytes(serialization.Encoding.PEM)
            + self._leaf_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        # ssl loads certificates from files only: a private directory, and the file is gone
        # as soon as it is read.
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="mcp-tap-leaf-"))
        fd, name = tempfile.mkstemp(dir=self._scratch, suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
            context.load_cert_chain(name)
        finally:
            os.unlink(name)
        return context

    def _on_sni(
        self, ssl_object: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext
    ) -> None:
        if server_name:
            wanted = self.leaf_context(server_name)
            if wanted is not context:
                ssl_object.context = wanted

    def leaf_certificate(self, host: str, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
        """A server certificate for `host` (a name or an address) with `key`, signed by the CA."""
        now = datetime.datetime.now(datetime.UTC)
        alt_name: x509.GeneralName
        try:
            alt_name = x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            alt_name = x509.DNSName(host)
        ca_key_id = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS - 1))
            .add_extension(x509.SubjectAlternativeName([alt_name]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )


@dataclass(frozen=True)
class OpenedCA:
    """What `load_or_create_ca` found: the CA, whether it is new, and why an old one went."""

    ca: LocalCA
    created: bool
    replaced: str | None = None  # why the CA on disk was replaced by a new one, for the user


def load_or_create_ca(
    directory: Path | None = None,
    regenerate: bool = False,
    max_certs: int = DEFAULT_MAX_CERTS,
    names: tuple[str, ...] | None = None,
) -> OpenedCA:
    """The CA in `directory` (default: `default_ca_dir()`), made first if needed.

    `names` limits a CA made now to those DNS names (None: any host) and replaces one on disk
    limited otherwise. A CA without the server-only usage (made by an earlier mcp-tap) is
    replaced too. `regenerate` replaces it whatever it is. Clients that trusted a replaced
    certificate must be given the new one.
    """
    directory = directory or default_ca_dir()
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    replaced: str | None = None
    if not regenerate and cert_path.exists() and key_path.exists():
        ca = _load(directory, cert_path, key_path, max_certs)
        if not _serves_only(ca.cert):
            replaced = (
                f"the CA in {directory} was made by an earlier mcp-tap and could sign more "
                "than server certificates"
            )
        elif names is not None and ca.names != names:
            had = ", ".join(ca.names) if ca.names is not None else "every host"
            replaced = f"the CA in {directory} signed for {had}, not {', '.join(names)}"
        else:
            return OpenedCA(ca, created=False)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise CAError(f"cannot create {directory}: {error.strerror or error}") from None
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _ca_cert(key, names)
    try:
        _write_atomic(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            0o600,
        )
        _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    except OSError as error:
        raise CAError(f"cannot write the CA in {directory}: {error.strerror or error}") from None
    return OpenedCA(LocalCA(directory, cert, key, max_certs), created=True, replaced=replaced)


def _serves_only(cert: x509.Certificate) -> bool:
    """Whether the CA's usage is `serverAuth` alone (an earlier mcp-tap set none)."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def _load(directory: Path, cert_path: Path, key_path: Path, max_certs: int) -> LocalCA:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as error:
        raise CAError(f"cannot read the CA in {directory}: {error.strerror or error}") from None
    except ValueError as error:
        raise CAError(
            f"the CA in {directory} is damaged ({error}); `mcp-tap ca --regenerate` makes a new one"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CAError(f"{key_path} is not an mcp-tap CA key; `mcp-tap ca --regenerate`")
    if os.name == "posix" and key_path.stat().st_mode & 0o077:
        os.chmod(key_path, 0o600)  # someone loosened it: the key signs for any host
    return LocalCA(directory, cert, key, max_certs)


def _ca_cert(key: ec.EllipticCurvePrivateKey, names: tuple[str, ...] | None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mcp-tap"),
        ]
    )
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # Verifiers apply a CA's usage to the certificates it signs: server ones only.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(key_id, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(key_id), critical=False
        )
    )
    if names is not None:
        builder = builder.add_extension(name_constraints(names), critical=True)  # RFC 5280
    return builder.sign(key, hashes.SHA256())


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` with `mode` from the first byte, replacing it in one step."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

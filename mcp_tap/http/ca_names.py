"""Which hosts mcp-tap's CA may sign for: `--allow-host` patterns as X.509 name constraints.

With `--ca-name-constraints` the CA certificate carries permitted DNS subtrees, one per
`--allow-host` name, so a client that trusts the CA accepts a certificate it signed only for
those names, whatever else its key signs. A subtree covers the name and every name below it
(RFC 5280), so `mcp.example.com` permits `mcp.example.com` and `a.mcp.example.com`, and
`*.auth0.com` becomes `auth0.com`. Addresses are excluded altogether: a DNS constraint says
nothing about IP addresses, and without the exclusion the key could still sign for any.
"""

from __future__ import annotations

import ipaddress

from cryptography import x509

# Every IPv4 and IPv6 address: excluded, so only the permitted DNS names remain.
ALL_ADDRESSES = (
    x509.IPAddress(ipaddress.ip_network("0.0.0.0/0")),
    x509.IPAddress(ipaddress.ip_network("::/0")),
)
_WILDCARDS = "*?[]"


class NameConstraintError(ValueError):
    """An `--allow-host` pattern that no name constraint can express: one line for the user."""


def permitted_names(patterns: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The DNS subtrees for `patterns` (`--allow-host` values), sorted and without repeats."""
    if not patterns:
        raise NameConstraintError(
            "--ca-name-constraints needs --allow-host names: the hosts the CA may sign for"
        )
    names: set[str] = set()
    for pattern in patterns:
        name = pattern.strip().lower().rstrip(".")
        if name.startswith("*."):
            name = name[2:]  # a subtree already covers every name below it
        if _is_address(name):
            raise NameConstraintError(
                f"--ca-name-constraints limits the CA to host names; --allow-host {pattern!r} "
                "is an address (leave out --ca-name-constraints to read it)"
            )
        if not name or any(char in name for char in _WILDCARDS) or not _is_dns_name(name):
            raise NameConstraintError(
                f"--ca-name-constraints: --allow-host {pattern!r} is not a host name or "
                "'*.domain', so no name constraint can express it"
            )
        names.add(name)
    return tuple(sorted(names))


def name_constraints(names: tuple[str, ...]) -> x509.NameConstraints:
    """The extension for a CA limited to `names` and their subdomains, and no address."""
    return x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(name) for name in names],
        excluded_subtrees=list(ALL_ADDRESSES),
    )


def names_of(cert: x509.Certificate) -> tuple[str, ...] | None:
    """The DNS subtrees `cert` is limited to, or None for a CA that signs for any host."""
    try:
        extension = cert.extensions.get_extension_for_class(x509.NameConstraints)
    except x509.ExtensionNotFound:
        return None
    permitted = extension.value.permitted_subtrees or []
    return tuple(sorted(str(n.value) for n in permitted if isinstance(n, x509.DNSName)))


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _is_dns_name(name: str) -> bool:
    labels = name.split(".")
    return all(
        0 < len(label) <= 63
        and label.isascii()
        and all(c.isalnum() or c in "-_" for c in label)
        and not label.startswith("-")
        for label in labels
    )

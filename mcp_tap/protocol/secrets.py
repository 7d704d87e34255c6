"""Which names and values are secrets, and how a secret is written once it is taken out.

One policy for every place a secret travels: query strings (a request's target, a URL on the
command line, the proxy's `--target`), URLs' passwords, a stdio server's command line in each
form a flag takes, free text that quotes a URL (a fault's detail, a line on stderr), and
headers. Pure functions of strings; `redaction.Redactor` applies them to tap events.

A secret keeps its place and its name, so the text stays readable: `api_key=<redacted:api_key>`,
`--token=<redacted:token>`, `Authorization: Bearer <redacted:authorization>`.

Names are compared normalised: lower case, with `-`, `_`, `.` and spaces left out, so
`API_KEY`, `api-key`, `apiKey` and `Api_Key` are one name (`apikey`). A name is a secret when it
is one of `SECRET_NAMES`, contains one of `SECRET_NAME_PARTS`, or ends in `key`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from urllib.parse import unquote

# Whole names: short words that would match too much as parts of other names.
SECRET_NAMES = frozenset(
    {
        "key",
        "sig",
        "pat",
        "pass",
        "pwd",
        "auth",
        "code",
        "hmac",
        "session",
        "sessionkey",
        "jwt",
    }
)
# Parts: a name containing one of these is a secret (`access_token`, `client_secret`,
# `X-Amz-Signature`, `DB_PASSWORD`, `--bearer`, `github_pat_token`, `oauth_credentials`).
SECRET_NAME_PARTS = (
    "token",
    "secret",
    "passw",
    "apikey",
    "signature",
    "credential",
    "bearer",
    "authorization",
    "cookie",
    "privatekey",
    "codeverifier",
    "codechallenge",
    "assertion",
)
# Values that are credentials whatever carries them: the prefixes of common API keys.
SECRET_VALUE_PREFIXES = (
    "sk-",
    "sk_live_",
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "AKIA",
)
# Headers whose value is a credential. Narrower than `is_secret_name` on purpose: a replay
# asks for the value of every redacted request header.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
CREDENTIAL_HEADER_PARTS = ("token", "secret", "apikey", "password")

_OPTION = re.compile(r"^(-{1,2}[A-Za-z0-9][\w.-]*)(?:=(.*))?$", re.DOTALL)
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$", re.DOTALL)
_HEADER_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_-]*)\s*:\s*(.*)$", re.DOTALL)
_SCHEME_WORD = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)\s+\S")  # `Bearer abc`, `Basic abc`
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/?#@]*)@")
_URL_IN_TEXT = re.compile(r"[^\s\"'<>]*(?:://|\?)[^\s\"'<>]*")
_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)"((?:[^"\\]|\\.)*)"')


def marker(name: str) -> str:
    """The value that stands in for a redacted one; replay recognises the `<redacted:` prefix."""
    return f"<redacted:{name}>"


def is_marker(value: object) -> bool:
    """True for a value written by `marker`."""
    return isinstance(value, str) and value.startswith("<redacted:") and value.endswith(">")


def normal_name(name: str) -> str:
    """`--API_Key`, `api-key`, `apiKey` -> `apikey`: the form names are compared in."""
    return re.sub(r"[-_.\s]", "", name.lower())


def is_secret_name(name: str) -> bool:
    """Whether a query parameter, option, variable or JSON field of this name holds a secret."""
    plain = normal_name(name)
    if not plain:
        return False
    return (
        plain in SECRET_NAMES
        or plain.endswith("key")
        or any(part in plain for part in SECRET_NAME_PARTS)
    )


def is_credential_header(name: str, extra: frozenset[str] = frozenset()) -> bool:
    """Whether a header (lower-case name) carries a credential; `extra`: `--redact-header`."""
    if name in extra or name in CREDENTIAL_HEADERS:
        return True
    plain = normal_name(name)
    return any(part in plain for part in CREDENTIAL_HEADER_PARTS)


def redact_query(
    target: str, session: Callable[[str], str] | None = None, sessions: Sequence[str] = ()
) -> str:
    """A target or URL with the values of secret query (and fragment) parameters replaced.

    Every other byte stays as it was. `session` maps the values of the `sessions` parameters
    (the 2024-11-05 `session_id`) to pseudonyms; without it they are kept.
    """
    if "?" not in target and "#" not in target:
        return target
    head, hash_sign, fragment = target.partition("#")
    path, question, query = head.partition("?")
    if question:
        query = _redact_pairs(query, session, sessions)
    if hash_sign and "=" in fragment:  # `#access_token=...` of an implicit-flow redirect
        fragment = _redact_pairs(fragment, session, sessions)
    return path + question + query + hash_sign + fragment


def redact_url(url: str) -> str:
    """A URL with its password (`user:<redacted:password>@`) and secret query values replaced."""
    match = _USERINFO.match(url)
    if match is not None:
        user, colon, password = match.group(2).partition(":")
        if colon:
            userinfo = f"{user}:{marker('password')}"
        elif user.startswith(SECRET_VALUE_PREFIXES):
            userinfo = marker("credential")  # `https://ghp_...@github.com`
        else:
            userinfo = user
        url = match.group(1) + userinfo + "@" + url[match.end() :]
    return redact_query(url)


def redact_text(text: str) -> str:
    """Free text (a fault's detail, a line for stderr) with the URLs and targets in it redacted."""
    if "?" not in text and "@" not in text and "#" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        url = word.rstrip(".,;:)")  # the sentence's punctuation, not the URL's
        return redact_url(url) + word[len(url) :]

    return _URL_IN_TEXT.sub(replace, text)


def redact_header_line(line: str, extra: frozenset[str] = frozenset()) -> str:
    """`Authorization: Bearer abc` -> `Authorization: Bearer <redacted:authorization>`; a line
    naming no credential header (or not a header line at all) comes back as it was."""
    match = _HEADER_LINE.match(line)
    if match is None:
        return line
    name, value = match.group(1), match.group(2)
    if not (is_credential_header(name.lower(), extra) or is_secret_name(name)):
        return line
    scheme = _SCHEME_WORD.match(value)
    kept = scheme.group(1) + " " if scheme is not None else ""
    return line[: match.start(2)] + kept + marker(name.lower())


def redact_json_text(text: str) -> str:
    """JSON text with the string values of secret-named fields replaced (`"token": "..."`)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if not is_secret_name(name):
            return match.group(0)
        return f'"{name}"{match.group(2)}"{marker(name)}"'

    return _JSON_PAIR.sub(replace, text)


def redact_command(argv: Sequence[str]) -> list[str]:
    """A command line with the secrets in its arguments replaced, in every form a flag takes.

    `--token X`, `--token=X`, `-H "Authorization: Bearer X"`, `--header=Authorization:X`,
    `API_KEY=X`, URLs with secret query values or a password, JSON arguments with secret
    fields, and values that look like well-known API keys. The program (argv[0]) is kept.
    """
    out: list[str] = list(argv[:1])
    secret_next: str | None = None  # the option whose value the next argument is
    for arg in argv[1:]:
        if secret_next is not None and not arg.startswith("-"):
            out.append(marker(secret_next))
            secret_next = None
            continue
        secret_next = None
        option = _OPTION.match(arg)
        if option is not None:
            name, value = option.group(1), option.group(2)
            if is_secret_name(name):
                plain = name.lstrip("-").lower()
                if value is None:
                    secret_next = plain
                    out.append(arg)
                else:
                    out.append(f"{name}={marker(plain)}")
            else:
                out.append(arg if value is None else f"{name}={redact_value(value)}")
            continue
        if arg.startswith("-H") and len(arg) > 2:  # curl's glued `-HAuthorization: ...`
            out.append("-H" + redact_value(arg[2:]))
            continue
        assignment = _ASSIGNMENT.match(arg)
        if assignment is not None:
            name, value = assignment.group(1), assignment.group(2)
            secret = is_secret_name(name)
            out.append(f"{name}={marker(name.lower()) if secret else redact_value(value)}")
            continue
        out.append(redact_value(arg))
    return out


def redact_value(value: str) -> str:
    """One argument's value, whatever flag gave it: a header line, a URL, JSON, a known key."""
    if value.startswith(SECRET_VALUE_PREFIXES):
        return marker("credential")
    header = redact_header_line(value)
    if header != value:
        return header
    if "://" in value or ("?" in value and "=" in value):
        return redact_url(value)
    if value.lstrip().startswith(("{", "[")):
        return redact_json_text(value)
    return value


def _redact_pairs(pairs: str, session: Callable[[str], str] | None, sessions: Sequence[str]) -> str:
    lowered = {name.lower() for name in sessions}
    parts = []
    for part in pairs.split("&"):
        name, eq, value = part.partition("=")
        plain = unquote(name.replace("+", " ")).strip()
        if eq and plain.lower() in lowered:
            if session is not None:
                part = f"{name}={session(unquote(value))}"
        elif eq and is_secret_name(plain):
            part = f"{name}={marker(plain.lower())}"
        parts.append(part)
    return "&".join(parts)

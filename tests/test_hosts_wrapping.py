"""`mcp_tap.hosts`: the places per OS, the servers of each format, and wrap/unwrap as text edits
that give back every byte."""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

import pytest

from mcp_tap.hosts.formats import servers, wrapped_form
from mcp_tap.hosts.jsonc import parse
from mcp_tap.hosts.locations import config_files, default_recording_dir
from mcp_tap.hosts.wrapping import (
    Invocation,
    NotWrappable,
    apply,
    unwrap_edits,
    wrap_edits,
)

TAP = Invocation("/opt/mcp-tap/bin/mcp-tap")
PY_TAP = Invocation("C:\\Python\\python.exe", ("-m", "mcp_tap"))
RECORD = "/rec/{name}-{time}-{pid}.yaml"


def wrap_all(host: str, text: str, invocation: Invocation = TAP) -> str:
    edits = []
    for server in servers(host, parse(text)):
        if server.kind == "stdio":
            edits += wrap_edits(text, server, invocation, RECORD)
    return apply(text, edits)


def unwrap_all(host: str, text: str) -> str:
    edits = []
    for server in servers(host, parse(text)):
        if server.wrapped is not None:
            edits += unwrap_edits(text, server)
    return apply(text, edits)


LAYOUTS = {
    "indented, args on lines": '{\n  "mcpServers": {\n    "a": {\n      "command": "npx",\n'
    '      "args": [\n        "-y",\n        "pkg"\n      ]\n    }\n  }\n}\n',
    "one line": '{"mcpServers": {"a": {"command": "npx", "args": ["-y", "pkg"]}}}',
    "compact": '{"mcpServers":{"a":{"args":["-y","pkg"],"command":"npx"}}}',
    "no args, lines": '{\n    "mcpServers": {\n        "a": {\n            "command": "uvx"\n'
    "        }\n    }\n}\n",
    "no args, one line": '{"mcpServers": {"a": {"command": "uvx", "env": {"K": "v"}}}}',
    "no args, first member": '{"mcpServers": {"a": {"command": "uvx"}}}',
    "empty args": '{"mcpServers": {"a": {"command": "x", "args": []}}}',
    "empty args with space": '{"mcpServers": {"a": {"command": "x", "args": [\n  ]}}}',
    "one arg on its line": '{"mcpServers": {"a": {"command": "x", "args": [\n\t\t"only"\n\t]}}}',
    "CRLF and tabs": '{\r\n\t"mcpServers": {\r\n\t\t"a": {\r\n\t\t\t"command": "node",\r\n'
    '\t\t\t"args": [\r\n\t\t\t\t"s.js",\r\n\t\t\t\t"--port", 3\r\n\t\t\t]\r\n\t\t}\r\n\t}\r\n}',
    "escapes kept": '{"mcpServers": {"a": {"command": "C:\\\\bin\\\\srv.exe", '
    '"args": ["\\u00e9"]}}}',
    "BOM": '\ufeff{"mcpServers": {"a": {"command": "npx", "args": ["x"]}}}',
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("invocation", [TAP, PY_TAP], ids=["script", "python -m"])
def test_wrap_then_unwrap_gives_back_every_byte(layout: str, invocation: Invocation) -> None:
    original = LAYOUTS[layout]
    wrapped = wrap_all("cursor", original, invocation)
    assert wrapped != original
    (server,) = servers("cursor", parse(wrapped))
    assert server.command == invocation.command
    assert server.wrapped is not None and server.wrapped.name == "a"
    (before,) = servers("cursor", parse(original))
    assert server.wrapped.inner(server.args) == [before.command, *before.args]
    if "\r\n" in original:
        assert "\n" not in wrapped.replace("\r\n", "")
    assert unwrap_all("cursor", wrapped) == original


def test_wrapped_args_follow_the_layout_of_the_original_items() -> None:
    wrapped = wrap_all("cursor", LAYOUTS["indented, args on lines"])
    assert '"args": [\n        "stdio",\n        "--host-entry",\n        "a",\n' in wrapped
    assert '\n        "npx",\n        "-y",\n        "pkg"\n      ]' in wrapped
    no_args = wrap_all("cursor", LAYOUTS["no args, lines"])
    assert '"command": "/opt/mcp-tap/bin/mcp-tap",\n            "args": ["stdio",' in no_args


def test_an_edit_elsewhere_survives_the_unwrap() -> None:
    original = LAYOUTS["indented, args on lines"].replace(
        "    }\n  }\n}", '    },\n    "b": {"url": "https://x/mcp"}\n  }\n}'
    )
    wrapped = wrap_all("claude-desktop", original)
    edited = wrapped.replace('"https://x/mcp"}', '"https://y/mcp", "headers": {"A": "1"}}')
    assert unwrap_all("claude-desktop", edited) == original.replace(
        '"https://x/mcp"}', '"https://y/mcp", "headers": {"A": "1"}}'
    )


def test_what_cannot_be_wrapped_says_why() -> None:
    text = (
        '{"mcpServers": {"h": {"serverUrl": "https://x/sse"}, "bad": {"command": "x", '
        '"args": "not a list"}}}'
    )
    http, bad = servers("windsurf", parse(text))
    assert http.kind == "http" and http.url == "https://x/sse"
    with pytest.raises(NotWrappable, match="HTTP server"):
        wrap_edits(text, http, TAP, RECORD)
    with pytest.raises(NotWrappable, match="args are not a list"):
        wrap_edits(text, bad, TAP, RECORD)
    wrapped = wrap_all("cursor", '{"mcpServers": {"a": {"command": "x"}}}')
    (again,) = servers("cursor", parse(wrapped))
    with pytest.raises(NotWrappable, match="already wrapped"):
        wrap_edits(wrapped, again, TAP, RECORD)


def test_a_hand_written_mcp_tap_stdio_entry_is_not_taken_for_a_wrapped_one() -> None:
    assert wrapped_form("mcp-tap", ["stdio", "--record", "x.yaml", "--", "npx", "y"]) is None
    assert wrapped_form("mcp-tap", ["stdio", "--host-entry", "n", "--", "npx"]) is not None


def test_each_host_keeps_its_servers_where_its_documentation_says() -> None:
    claude_code = (
        '{"numStartups": 3, "mcpServers": {"u": {"type": "stdio", "command": "a"}},'
        ' "projects": {"/home/me/app": {"allowedTools": [], "mcpServers": {"p": '
        '{"type": "http", "url": "https://p/mcp"}}}}}'
    )
    found = servers("claude-code", parse(claude_code))
    assert [(s.label, s.kind) for s in found] == [
        ("u", "stdio"),
        ("p (projects./home/me/app)", "http"),
    ]
    vscode = '{"inputs": [], "servers": {"v": {"type": "sse", "url": "https://v/sse"}}}'
    assert [s.name for s in servers("vscode", parse(vscode))] == ["v"]
    assert servers("cursor", parse(vscode)) == []  # Cursor reads mcpServers, not servers


def _paths(system: str, env: dict[str, str], project: str) -> dict[tuple[str, str], str]:
    return {
        (f.host, f.scope): str(f.path)
        for f in config_files(system, env, project_path(system, project))
    }


def project_path(system: str, project: str) -> PurePosixPath | PureWindowsPath:
    return PureWindowsPath(project) if system == "Windows" else PurePosixPath(project)


def test_linux_places() -> None:
    paths = _paths("Linux", {"HOME": "/home/me"}, "/work/app")
    assert paths == {
        ("claude-desktop", "user"): "/home/me/.config/Claude/claude_desktop_config.json",
        ("claude-code", "user"): "/home/me/.claude.json",
        ("claude-code", "project"): "/work/app/.mcp.json",
        ("cursor", "user"): "/home/me/.cursor/mcp.json",
        ("cursor", "project"): "/work/app/.cursor/mcp.json",
        ("vscode", "user"): "/home/me/.config/Code/User/mcp.json",
        ("vscode", "project"): "/work/app/.vscode/mcp.json",
        ("windsurf", "user"): "/home/me/.codeium/windsurf/mcp_config.json",
    }
    xdg = _paths("Linux", {"HOME": "/home/me", "XDG_CONFIG_HOME": "/cfg"}, "/w")
    assert xdg["claude-desktop", "user"] == "/cfg/Claude/claude_desktop_config.json"
    assert xdg["vscode", "user"] == "/cfg/Code/User/mcp.json"
    assert str(default_recording_dir("Linux", {"HOME": "/home/me"})) == (
        "/home/me/.local/share/mcp-tap/recordings"
    )


def test_macos_places() -> None:
    paths = _paths("Darwin", {"HOME": "/Users/me", "XDG_CONFIG_HOME": "/ignored"}, "/src/app")
    support = "/Users/me/Library/Application Support"
    assert paths["claude-desktop", "user"] == f"{support}/Claude/claude_desktop_config.json"
    assert paths["vscode", "user"] == f"{support}/Code/User/mcp.json"
    assert paths["claude-code", "user"] == "/Users/me/.claude.json"
    assert paths["windsurf", "user"] == "/Users/me/.codeium/windsurf/mcp_config.json"


def test_windows_places() -> None:
    env = {"USERPROFILE": "C:\\Users\\me", "APPDATA": "D:\\Roaming", "LOCALAPPDATA": "D:\\Local"}
    paths = _paths("Windows", env, "C:\\src\\app")
    assert paths["claude-desktop", "user"] == "D:\\Roaming\\Claude\\claude_desktop_config.json"
    assert paths["vscode", "user"] == "D:\\Roaming\\Code\\User\\mcp.json"
    assert paths["claude-code", "user"] == "C:\\Users\\me\\.claude.json"
    assert paths["cursor", "project"] == "C:\\src\\app\\.cursor\\mcp.json"
    assert paths["windsurf", "user"] == "C:\\Users\\me\\.codeium\\windsurf\\mcp_config.json"
    assert str(default_recording_dir("Windows", env)) == "D:\\Local\\mcp-tap\\recordings"
    no_appdata = _paths("Windows", {"USERPROFILE": "C:\\Users\\me"}, "C:\\a")
    assert no_appdata["claude-desktop", "user"] == (
        "C:\\Users\\me\\AppData\\Roaming\\Claude\\claude_desktop_config.json"
    )


def test_a_project_in_the_home_folder_is_one_file_not_two() -> None:
    files = config_files("Linux", {"HOME": "/home/me"}, PurePosixPath("/home/me"))
    cursor = [f for f in files if f.host == "cursor"]
    assert [str(f.path) for f in cursor] == ["/home/me/.cursor/mcp.json"]

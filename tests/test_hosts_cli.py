"""`mcp-tap hosts list|wrap|unwrap` as a user runs it: real config files of every host in a
temporary HOME, the real command in a subprocess, and a wrapped entry launched as a host
would launch it, by the `mcp` SDK's stdio client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from mcp_tap.recording.reader import load_recording

pytestmark = pytest.mark.timeout(90)

CLAUDE_DESKTOP = """{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": [
        "-y",
        "@modelcontextprotocol/server-filesystem",
        "/Users/me/Desktop"
      ]
    },
    "github": {
      "command": "docker",
      "args": ["run", "-i", "--rm", "-e", "GITHUB_TOKEN", "ghcr.io/github/github-mcp-server"],
      "env": {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_example"
      }
    },
    "sqlite": { "command": "uvx", "args": ["mcp-server-sqlite", "--db-path", "t.db"], "cwd": "/" }
  },
  "globalShortcut": "Ctrl+Space"
}
"""

# Claude Code writes ~/.claude.json itself, two spaces, with much besides the servers.
CLAUDE_CODE = json.dumps(
    {
        "numStartups": 12,
        "autoUpdates": True,
        "mcpServers": {
            "context7": {
                "type": "stdio",
                "command": "npx",
                "args": ["-y", "@upstash/context7-mcp"],
                "env": {},
            },
            "notion": {"type": "http", "url": "https://mcp.notion.com/mcp"},
        },
        "projects": {
            "/home/me/app": {
                "allowedTools": [],
                "mcpServers": {"postgres": {"type": "stdio", "command": "pg-mcp", "args": []}},
                "hasTrustDialogAccepted": True,
            }
        },
    },
    indent=2,
)

PROJECT_MCP = '{"mcpServers":{"sentry":{"command":"npx","args":["@sentry/mcp-server@latest"]}}}'

CURSOR = """{
\t"mcpServers": {
\t\t"playwright": {
\t\t\t"command": "npx",
\t\t\t"args": ["-y", "@playwright/mcp@latest"]
\t\t},
\t\t"context7": {
\t\t\t"url": "https://mcp.context7.com/mcp",
\t\t\t"headers": { "CONTEXT7_API_KEY": "${env:CONTEXT7_API_KEY}" }
\t\t}
\t}
}"""

VSCODE = """// VS Code MCP servers (JSONC)
{
  "inputs": [
    {
      "type": "promptString",
      "id": "perplexity-key",
      "description": "Perplexity API Key",
      "password": true
    }
  ],
  "servers": {
    // Perplexity, with its key asked for at start
    "perplexity": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "server-perplexity-ask"],
      "env": { "PERPLEXITY_API_KEY": "${input:perplexity-key}" },
    },
    /* the workspace's own server */
    "local": {"command": "python", "args": ["${workspaceFolder}/server.py",], "cwd": "/srv"},
    "github": { "type": "http", "url": "https://api.githubcopilot.com/mcp/" },
  },
}
"""

# Windsurf on Windows: CRLF line endings, four spaces, serverUrl for HTTP.
WINDSURF = (
    "{\r\n"
    '    "mcpServers": {\r\n'
    '        "git": {\r\n'
    '            "command": "uvx",\r\n'
    '            "args": ["mcp-server-git"],\r\n'
    '            "disabled": false\r\n'
    "        },\r\n"
    '        "zapier": {\r\n'
    '            "serverUrl": "https://actions.zapier.com/mcp/KEY/sse"\r\n'
    "        },\r\n"
    '        "time": {\r\n'
    '            "command": "uvx"\r\n'
    "        }\r\n"
    "    }\r\n"
    "}\r\n"
)


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, Path]:
    """A HOME with one config file per host, and a project folder with its own files."""
    home, project = tmp_path / "home", tmp_path / "project"
    files = {
        "claude-desktop": home / ".config" / "Claude" / "claude_desktop_config.json",
        "claude-code": home / ".claude.json",
        "claude-code-project": project / ".mcp.json",
        "cursor": home / ".cursor" / "mcp.json",
        "vscode": project / ".vscode" / "mcp.json",
        "windsurf": home / ".codeium" / "windsurf" / "mcp_config.json",
    }
    contents = [CLAUDE_DESKTOP, CLAUDE_CODE, PROJECT_MCP, CURSOR, VSCODE, WINDSURF]
    for path, text in zip(files.values(), contents, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    files["claude-desktop"].chmod(0o600)
    files["home"], files["project"] = home, project
    return files


def tap_hosts(machine: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    env["HOME"] = str(machine["home"])
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", "hosts", *args],
        cwd=machine["project"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def listed(out: str) -> dict[tuple[str, str], list[str]]:
    """`hosts list`'s rows by (host, server): the words of each."""
    rows: dict[tuple[str, str], list[str]] = {}
    host = ""
    for line in out.splitlines():
        if line.startswith("  "):
            rows[host, line.split()[0]] = line.split()
        else:
            host = line.split()[0]
    return rows


def contents(machine: dict[str, Path]) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in machine.items() if path.is_file()}


def test_list_shows_every_hosts_servers(machine: dict[str, Path]) -> None:
    done = tap_hosts(machine, "list")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for host in ("claude-desktop", "claude-code", "cursor", "vscode", "windsurf"):
        assert host in out
    assert str(machine["claude-desktop"]) in out and str(machine["vscode"]) in out
    rows = listed(out)
    assert rows["claude-desktop", "filesystem"] == [
        "filesystem", "stdio", "not", "wrapped",
        "npx", "-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop",
    ]  # fmt: skip
    assert rows["claude-code", "notion"][1:5] == [
        "http",
        "not",
        "wrapped",
        "https://mcp.notion.com/mcp",
    ]
    assert rows["claude-code", "postgres"][1] == "(projects./home/me/app)"
    assert "https://actions.zapier.com/mcp/KEY/sse" in rows["windsurf", "zapier"]
    assert rows["vscode", "local"][4:] == ["python", "'${workspaceFolder}/server.py'"]
    assert rows["claude-code", "sentry"][1] == "stdio"  # the project's .mcp.json


def test_wrap_then_unwrap_gives_back_every_file_byte_for_byte(machine: dict[str, Path]) -> None:
    before = contents(machine)
    wrapped = tap_hosts(machine, "wrap", "--record-dir", str(machine["home"] / "rec"))
    assert wrapped.returncode == 0, wrapped.stderr
    assert "left cursor context7: an HTTP server" in wrapped.stdout
    assert "wrapped claude-code postgres (projects./home/me/app)" in wrapped.stdout
    after = contents(machine)
    assert all(after[name] != before[name] for name in before)
    assert (machine["claude-desktop"].stat().st_mode & 0o777) == 0o600  # the mode is kept
    backups = list(machine["claude-desktop"].parent.glob("*.mcp-tap-backup"))
    assert len(backups) == 1 and backups[0].read_bytes() == before["claude-desktop"]

    rows = listed(tap_hosts(machine, "list").stdout)
    assert rows["claude-desktop", "github"][1:6] == ["stdio", "wrapped", "docker", "run", "-i"]
    assert rows["vscode", "github"][1:4] == ["http", "not", "wrapped"]

    unwrapped = tap_hosts(machine, "unwrap")
    assert unwrapped.returncode == 0, unwrapped.stderr
    assert contents(machine) == before


def test_wrap_keeps_env_cwd_comments_and_layout(machine: dict[str, Path]) -> None:
    tap_hosts(machine, "wrap", "--record-dir", str(machine["home"] / "rec"))
    vscode = machine["vscode"].read_text()
    assert vscode.startswith("// VS Code MCP servers (JSONC)\n{")
    assert "// Perplexity, with its key asked for at start" in vscode
    assert '"env": { "PERPLEXITY_API_KEY": "${input:perplexity-key}" },' in vscode
    assert '"args": ["stdio", "--host-entry", "local", "--record", ' in vscode
    assert '"--", "python", "${workspaceFolder}/server.py",], "cwd": "/srv"},' in vscode
    desktop = json.loads(machine["claude-desktop"].read_text())["mcpServers"]
    github = desktop["github"]
    assert github["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_example"}
    assert Path(github["command"]).is_absolute()
    separator = github["args"].index("--")
    assert github["args"][separator + 1 :] == [
        "docker", "run", "-i", "--rm", "-e", "GITHUB_TOKEN",
        "ghcr.io/github/github-mcp-server",
    ]  # fmt: skip
    assert str(machine["home"] / "rec" / "{name}-{time}-{pid}.yaml") in github["args"]
    assert desktop["sqlite"]["cwd"] == "/"
    windsurf = machine["windsurf"].read_bytes()
    assert b"\n" not in windsurf.replace(b"\r\n", b"")  # CRLF stays CRLF


def test_unwrap_after_the_user_edited_other_entries(machine: dict[str, Path]) -> None:
    original = machine["vscode"].read_text()
    desktop_original = machine["claude-desktop"].read_text()
    tap_hosts(machine, "wrap", "--no-record")
    # The user edits the file by hand: a URL changes, a server is added.
    url_before = '"url": "https://api.githubcopilot.com/mcp/" }'
    url_after = '"url": "https://example.com/mcp" , "headers": {"X": "1"} }'
    added = '\n    "new": {"type": "stdio", "command": "new-server"},'
    wrapped = machine["vscode"].read_text()
    edited = wrapped.replace(url_before, url_after).replace('"servers": {', '"servers": {' + added)
    machine["vscode"].write_text(edited)
    desktop = machine["claude-desktop"].read_text().replace('"Ctrl+Space"', '"Alt+Space"')
    machine["claude-desktop"].write_text(desktop)

    done = tap_hosts(machine, "unwrap")
    assert done.returncode == 0, done.stderr
    expected = original.replace(url_before, url_after).replace(
        '"servers": {', '"servers": {' + added
    )
    assert machine["vscode"].read_text() == expected
    assert machine["claude-desktop"].read_text() == desktop_original.replace(
        '"Ctrl+Space"', '"Alt+Space"'
    )


def test_dry_run_prints_the_diff_and_writes_nothing(machine: dict[str, Path]) -> None:
    before = contents(machine)
    done = tap_hosts(machine, "wrap", "--dry-run", "cursor")
    assert done.returncode == 0, done.stderr
    assert f"--- {machine['cursor']}\n+++ {machine['cursor']}\n" in done.stdout
    assert '-\t\t\t"command": "npx",' in done.stdout
    assert '+\t\t\t\t"stdio",' not in done.stdout  # one-line args stay on one line
    assert '+\t\t\t"args": ["stdio", "--host-entry", "playwright",' in done.stdout
    assert "claude-desktop" not in done.stdout  # only the host named
    assert contents(machine) == before
    assert not list(machine["home"].rglob("*.mcp-tap-backup"))


def test_one_server_of_one_host(machine: dict[str, Path]) -> None:
    done = tap_hosts(machine, "wrap", "claude-desktop", "github", "--no-record")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "wrapped claude-desktop github"
    rows = listed(tap_hosts(machine, "list", "claude-desktop").stdout)
    assert {host for host, _ in rows} == {"claude-desktop"}
    assert [name for (_, name), words in rows.items() if words[2] == "wrapped"] == ["github"]
    missing = tap_hosts(machine, "wrap", "nosuch")
    assert missing.returncode == 2
    assert missing.stderr == "mcp-tap: no server named nosuch in the hosts' config files\n"


def test_an_unparseable_file_is_named_and_left_alone(machine: dict[str, Path]) -> None:
    broken = b'{\n  "mcpServers": {\n    "a": {"command": "x",}\n  \n'
    machine["cursor"].write_bytes(broken)
    done = tap_hosts(machine, "wrap", "--no-record")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"mcp-tap: skipped {machine['cursor']}: cannot read it: ")
    assert "line 5" in line or "line 4" in line
    assert machine["cursor"].read_bytes() == broken
    assert "wrapped windsurf git" in done.stdout  # the others were done
    assert tap_hosts(machine, "list").returncode == 2


def test_config_flag_reads_one_file_in_a_named_format(tmp_path: Path) -> None:
    machine = {"home": tmp_path, "project": tmp_path}
    config = tmp_path / "team-mcp.json"
    config.write_text(VSCODE)
    done = tap_hosts(machine, "list", "--config", str(config), "--host", "vscode")
    assert done.returncode == 0 and "perplexity" in done.stdout
    bad = tap_hosts(machine, "list", "--config", str(config))
    assert bad.returncode == 2 and bad.stderr.startswith("mcp-tap: --config needs --host")


# --- a wrapped entry, launched as a host launches it ----------------------------------------


async def call_echo(entry: dict[str, Any], cwd: Path, text: str) -> str:
    params = StdioServerParameters(
        command=entry["command"], args=entry["args"], env=entry.get("env"), cwd=str(cwd)
    )
    with anyio.fail_after(60):
        async with Client(params) as client:
            result = await client.call_tool("echo", {"text": text})
    content = result.content[0]
    assert content.type == "text"
    return content.text


def test_a_wrapped_entry_runs_the_server_and_records_each_launch(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    server = {"command": sys.executable, "args": ["-m", "demo_server", "--stdio"]}
    server["env"] = {"DEMO_MARK": "kept"}  # type: ignore[assignment]
    config.write_text(json.dumps({"mcpServers": {"demo": server}}, indent=2))
    record_dir = tmp_path / "recordings"
    machine = {"home": home, "project": tmp_path}
    done = tap_hosts(machine, "wrap", "--record-dir", str(record_dir))
    assert done.returncode == 0, done.stderr

    entry = json.loads(config.read_text())["mcpServers"]["demo"]
    assert entry["env"] == {"DEMO_MARK": "kept"}
    host_cwd = tmp_path / "host-cwd"  # a host starts servers wherever it likes
    host_cwd.mkdir()
    assert anyio.run(call_echo, entry, host_cwd, "first") == "first"
    assert anyio.run(call_echo, entry, host_cwd, "second") == "second"

    files = sorted(record_dir.iterdir())
    assert len(files) == 2 and all(f.name.startswith("demo-") for f in files)
    said = set()
    for file in files:
        recording = load_recording(file)
        assert recording.header["command"][-2:] == ["demo_server", "--stdio"]
        said |= {
            e.message.payload["params"]["arguments"]["text"]
            for e in recording.events
            if getattr(getattr(e, "message", None), "method", None) == "tools/call"
        }
    assert said == {"first", "second"}

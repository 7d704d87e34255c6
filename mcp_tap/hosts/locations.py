"""Where each host keeps its MCP config files, on Linux, macOS and Windows.

Everything is derived from the environment a caller passes (HOME, APPDATA,
XDG_CONFIG_HOME...), so a test can point a whole machine at a temporary folder. Each path
names the documentation it was checked against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

HOSTS = ("claude-desktop", "claude-code", "cursor", "vscode", "windsurf")
SYSTEMS = ("Linux", "Darwin", "Windows")  # as platform.system() names them


@dataclass(frozen=True)
class ConfigFile:
    """One config file a host reads: `scope` is `user` (every project) or `project`."""

    host: str
    path: PurePath  # in `system`'s own spelling: Path(path) on the machine itself
    scope: str


def _path(system: str) -> type[PurePath]:
    return PureWindowsPath if system == "Windows" else PurePosixPath


def home_dir(system: str, env: Mapping[str, str]) -> PurePath:
    """The user's home: HOME (USERPROFILE first on Windows, as Node's os.homedir does)."""
    names = ("USERPROFILE", "HOME") if system == "Windows" else ("HOME", "USERPROFILE")
    for name in names:
        if env.get(name):
            return _path(system)(env[name])
    return _path(system)(Path.home())


def _app_data(system: str, env: Mapping[str, str], home: PurePath) -> PurePath:
    """Where desktop apps keep per-user settings: Electron's `appData` directory."""
    if system == "Darwin":
        return home / "Library" / "Application Support"
    if system == "Windows":
        return (
            PureWindowsPath(env["APPDATA"]) if env.get("APPDATA") else home / "AppData" / "Roaming"
        )
    return PurePosixPath(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"


def config_files(system: str, env: Mapping[str, str], project: PurePath) -> list[ConfigFile]:
    """Every file a host could read on `system` for `project` (existing or not), deduplicated."""
    home = home_dir(system, env)
    project = _path(system)(project)
    app_data = _app_data(system, env, home)
    candidates = [
        # modelcontextprotocol.io "Connect to local MCP servers": macOS
        # ~/Library/Application Support/Claude/, Windows %APPDATA%\Claude\. There is no
        # official Linux build; the community builds read $XDG_CONFIG_HOME/Claude/.
        ConfigFile("claude-desktop", app_data / "Claude" / "claude_desktop_config.json", "user"),
        # code.claude.com/docs/en/mcp "MCP installation scopes": user and local scopes live in
        # ~/.claude.json (local ones under projects.<path>.mcpServers), project scope in the
        # project's .mcp.json.
        ConfigFile("claude-code", home / ".claude.json", "user"),
        ConfigFile("claude-code", project / ".mcp.json", "project"),
        # cursor.com/docs/mcp: ~/.cursor/mcp.json (global), .cursor/mcp.json (project).
        ConfigFile("cursor", home / ".cursor" / "mcp.json", "user"),
        ConfigFile("cursor", project / ".cursor" / "mcp.json", "project"),
        # code.visualstudio.com/docs/copilot/reference/mcp-configuration: mcp.json in the user
        # profile (<appData>/Code/User) or the workspace's .vscode/mcp.json. The older
        # settings.json "mcp" section is migrated to mcp.json by VS Code and not read here.
        ConfigFile("vscode", app_data / "Code" / "User" / "mcp.json", "user"),
        ConfigFile("vscode", project / ".vscode" / "mcp.json", "project"),
        # docs.windsurf.com/windsurf/cascade/mcp: ~/.codeium/windsurf/mcp_config.json
        # (%USERPROFILE%\.codeium\windsurf on Windows).
        ConfigFile("windsurf", home / ".codeium" / "windsurf" / "mcp_config.json", "user"),
    ]
    seen: set[PurePath] = set()
    files = []
    for candidate in candidates:
        if candidate.path not in seen:  # a project in the home folder: one file, once
            seen.add(candidate.path)
            files.append(candidate)
    return files


def default_recording_dir(system: str, env: Mapping[str, str]) -> PurePath:
    """Where wrapped servers record by default: a per-user data folder, absolute, since a
    host starts its servers in a folder of its own choosing."""
    home = home_dir(system, env)
    if system == "Darwin":
        base = home / "Library" / "Application Support"
    elif system == "Windows":
        local = env.get("LOCALAPPDATA")
        base = PureWindowsPath(local) if local else home / "AppData" / "Local"
    else:
        base = (
            PurePosixPath(env["XDG_DATA_HOME"])
            if env.get("XDG_DATA_HOME")
            else home / ".local" / "share"
        )
    return base / "mcp-tap" / "recordings"

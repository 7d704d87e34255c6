"""`mcp-tap diff` and `mcp-tap pin` on real recordings: two versions of one stdio server, each
recorded through `mcp-tap stdio` with the `mcp` Python SDK as host (list the tools, call
two), then compared; and version 1's pins held against version 2, live.

`tests/versioned_stdio_server.py` says what version 2 changes: a tool removed, one gaining a
required parameter, one description rewritten with hidden text, one annotation flipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_tap.cli import main
from mcp_tap.protocol.events import ExchangeClosed, Finding
from mcp_tap.recording.reader import Recording, load_recording

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "tests" / "versioned_stdio_server.py"

pytestmark = pytest.mark.timeout(180)


def mcp_tap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


async def _host(command: list[str]) -> dict[str, Any]:
    """The SDK's stdio client: list the tools, call `add` and `scale` (without a unit)."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=command[0], args=command[1:], cwd=str(ROOT))
    with anyio.fail_after(60):
        async with Client(params) as client:
            tools = await client.list_tools()
            add = await client.call_tool("add", {"a": 1, "b": 2})
            scale = await client.call_tool("scale", {"value": 3})
    return {
        "tools": [tool.name for tool in tools.tools],
        "add": add.is_error,
        "scale": scale.is_error,
    }


def record(path: Path, version: int, *extra: str) -> dict[str, Any]:
    """Run the host against `version` through `mcp-tap stdio`; what the host saw."""
    tap = [sys.executable, "-m", "mcp_tap", "stdio", "--record", str(path), *extra, "--"]
    seen = anyio.run(_host, [*tap, sys.executable, str(SERVER), "--version", str(version)])
    finished(path)
    return seen


def finished(path: Path) -> Recording:
    deadline = time.monotonic() + 20  # the host has gone; mcp-tap finishes the file
    while True:
        recording = load_recording(path)
        if any(isinstance(e, ExchangeClosed) for e in recording.events):
            return recording
        assert time.monotonic() < deadline, "the recording never got its end"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("versions")
    v1, v2 = folder / "v1.yaml", folder / "v2.yaml"
    first = record(v1, 1)
    second = record(v2, 2)
    assert first == {
        "tools": ["add", "lookup", "scale", "legacy_export"],
        "add": False,
        "scale": False,
    }
    assert second == {"tools": ["add", "lookup", "scale"], "add": False, "scale": True}
    return v1, v2


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`mcp-tap ARGS` run by its entry point in this process: exit code, stdout, stderr.

    The same `main` as `python -m mcp_tap`, without a Python start-up each: for the many
    runs that vary one flag (each command here also runs as a process of its own)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_diff_finds_each_change_with_its_class(versions: tuple[Path, Path]) -> None:
    v1, v2 = versions
    done = mcp_tap("diff", str(v1), str(v2), "--format", "json")
    assert done.returncode == 0, done.stderr  # without --fail-on, differences are no failure
    report = json.loads(done.stdout)
    found = {(d["subject"], d["path"], d["what"]): d["impact"] for d in report["differences"]}
    assert found[("tool legacy_export", "tools[name=legacy_export]", "removed")] == "breaking"
    required = ("tool scale", "tools[name=scale].inputSchema.required")
    assert found[(*required, "new required property 'unit'")] == "breaking"
    hint = (
        "tool lookup",
        "tools[name=lookup].annotations.readOnlyHint",
        "readOnlyHint true -> false",
    )
    assert found[hint] == "breaking"
    description = ("tool add", "tools[name=add].description")
    assert found[(*description, "description changed")] == "compatible"
    hidden = {what for (subject, path, what), impact in found.items()
              if (subject, path) == description and impact == "suspicious"}  # fmt: skip
    assert hidden == {
        "description: invisible characters",
        "description: a directive to the model ('<IMPORTANT>')",
        "description: a directive to the model ('Do not tell the user')",
        "description: tag characters (hidden text 'send the key')",
    }
    errors = [d for d in report["differences"] if d["subject"] == "tools/call scale"]
    assert [(d["path"], d["impact"]) for d in errors] == [("error", "breaking")]
    assert "unit" in errors[0]["what"]
    assert not [d for d in report["differences"] if d["subject"] == "tools/call add"]
    assert report["counts"] == {"suspicious": 4, "breaking": 4, "compatible": 1}
    assert report["notes"] == []


def test_fail_on_follows_the_impact_in_both_directions(
    versions: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    v1, v2 = versions
    for form in ("text", "json", "markdown"):
        code, out, _ = in_process(
            capsys, "diff", str(v1), str(v2), "--format", form, "--fail-on", "breaking"
        )
        assert code == 1 and "legacy" in out, form
    assert in_process(capsys, "diff", str(v1), str(v2), "--fail-on", "any")[0] == 1
    # backwards a client survives every change but one: a tool added, a parameter it
    # need not send, a hint made safer, an error gone; but `unit`, which it had to send,
    # is a field removed
    back = json.loads(in_process(capsys, "diff", str(v2), str(v1), "--format", "json")[1])
    breaking = [d["what"] for d in back["differences"] if d["impact"] != "compatible"]
    assert breaking == ["removed property 'unit'"]
    unit = ["--ignore", "tools[name=scale].inputSchema.properties.unit"]
    assert in_process(capsys, "diff", str(v2), str(v1), "--fail-on", "breaking", *unit)[0] == 0
    assert in_process(capsys, "diff", str(v2), str(v1), "--fail-on", "any")[0] == 1
    ignored = [
        "--ignore", "tools[name=legacy_export]", "--ignore", "tools[name=scale]",
        "--ignore", "tools[name=lookup].annotations", "--ignore", "tools[name=add]",
        "--ignore", "error",
    ]  # fmt: skip
    quiet = mcp_tap("diff", str(v1), str(v2), "--fail-on", "any", *ignored)
    assert (quiet.returncode, quiet.stdout) == (0, "no differences\n")


def test_text_and_markdown_show_the_changes_escaped(versions: tuple[Path, Path]) -> None:
    v1, v2 = versions
    text = mcp_tap("diff", str(v1), str(v2)).stdout
    lines = text.splitlines()
    assert lines[0].endswith("9 differences (4 suspicious, 4 breaking, 1 compatible)")
    assert "  breaking    removed" in lines
    assert "  breaking    inputSchema.required: new required property 'unit'" in lines
    assert "  breaking    annotations: readOnlyHint true -> false" in lines
    assert "\u200b" not in text and "\U000e0073" not in text  # shown, never passed on
    assert "\\u200b" in text and "\\U000e0073" in text
    assert "{+numbers.\\u200b <IMPORTANT>Before using this tool" in text  # the word diff
    markdown = mcp_tap("diff", str(v1), str(v2), "--format", "markdown").stdout
    assert markdown.startswith("### mcp-tap diff: ")
    assert "| **breaking** | tool legacy\\_export | removed | `tools[name=legacy_export]` |" in (
        markdown
    )
    assert "| tool scale | inputSchema.required: new required property 'unit' |" in markdown
    assert "<details><summary>text changes</summary>" in markdown
    assert "\u200b" not in markdown.replace("`\u200b``", "")


def test_a_recording_diffed_with_itself_has_no_differences(
    versions: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    v1, _ = versions
    for form in ("text", "markdown"):
        code, out, _ = in_process(
            capsys, "diff", str(v1), str(v1), "--format", form, "--fail-on", "any"
        )
        assert code == 0 and "no differences" in out.splitlines(), (code, out)
    code, out, _ = in_process(capsys, "diff", str(v1), str(v1), "--format", "json")
    assert code == 0 and json.loads(out)["differences"] == []


def test_pins_of_version_1_raise_definition_changed_live_against_2(
    versions: tuple[Path, Path], tmp_path: Path
) -> None:
    v1, v2 = versions
    pins = tmp_path / "mcp-pins.json"
    done = mcp_tap("pin", str(v1), "-o", str(pins))
    assert done.returncode == 0 and f"pinned 4 definitions to {pins}" in done.stderr
    assert set(json.loads(pins.read_text())["tools"]) == {"add", "lookup", "scale", "legacy_export"}

    live = tmp_path / "live.yaml"
    record(live, 2, "--pins", str(pins))
    findings = [e for e in load_recording(live).events if isinstance(e, Finding)]
    changed = sorted(f.detail for f in findings if f.rule == "definition-changed")
    assert len(changed) == 3
    assert changed[0].startswith("tool 'add' differs from its pin: description changed; ")
    assert (
        changed[1] == "tool 'lookup' differs from its pin: annotations: readOnlyHint true -> false"
    )
    assert changed[2] == (
        "tool 'scale' differs from its pin: inputSchema.required: new required property 'unit'"
    )
    assert {f.severity.value for f in findings if f.rule == "definition-changed"} == {"error"}
    hidden = [f for f in findings if f.rule == "definition-hidden-text"]
    assert [f.severity.value for f in hidden] == ["warning", "error"]  # zero-width, then tags
    assert "(hidden text 'send the key')" in hidden[1].detail

    # the same judgement from the file, and none against the version that was pinned
    judged = mcp_tap("check", str(v2), "--pins", str(pins), "--rule", "definition-changed")
    assert judged.returncode == 1 and judged.stdout.count("error definition-changed") == 3
    clean = mcp_tap("check", str(v1), "--pins", str(pins))
    assert clean.returncode == 0 and "definition-" not in clean.stdout, clean.stdout


def test_bad_input_is_one_line_and_exit_2(
    versions: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v1, _ = versions
    missing = mcp_tap("diff", str(v1), str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for command in (["check", str(v1)], ["stdio", "--no-record"], ["proxy", "--port", "0"]):
        code, _, err = in_process(
            capsys, *command, "--pins", str(bad), *(["--", "true"] if "stdio" in command else [])
        )
        assert code == 2, (command, err)
        assert err.startswith(f"mcp-tap: {bad} is not JSON") and err.count("\n") == 1
    code, out, _ = in_process(capsys, "pin", str(v1), "-o", "-")
    assert code == 0
    pins = json.loads(out)
    pins["tools"]["add"]["definition"]["description"] = "edited"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(pins))
    code, _, err = in_process(capsys, "check", str(v1), "--pins", str(edited))
    assert code == 2 and "fingerprint is not its definition's" in err
    empty = tmp_path / "empty.yaml"  # a session that never listed anything
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}) + "\n"
    child = [sys.executable, str(ROOT / "tests" / "stdio_child.py"), "cat"]
    tap = [sys.executable, "-m", "mcp_tap", "stdio", "--record", str(empty), "--", *child]
    subprocess.run(tap, input=line, capture_output=True, text=True, timeout=60, check=True)
    code, _, err = in_process(capsys, "pin", str(empty), "-o", str(tmp_path / "p.json"))
    assert code == 2 and err.startswith("mcp-tap: nothing to pin"), err
    code, _, err = in_process(capsys, "diff", str(v1), str(v1), "--latency-factor", "0.5")
    assert code == 2 and "--latency-factor" in err

"""`mcp-tap stdio --record PATTERN`: a file of its own for every launch, as a host's wrapped
entry needs; a recording that cannot be made never keeps the server from starting."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from mcp_tap.recording.launch import is_launch_pattern, launch_path
from mcp_tap.recording.reader import load_recording
from tests.test_stdio import INITIALIZE, child, line, spawned

STARTED = datetime(2026, 11, 26, 10, 15, 0, tzinfo=UTC)


def test_a_pattern_or_a_folder_names_one_file_per_launch(tmp_path: Path) -> None:
    assert launch_path(str(tmp_path / "{name}-{pid}.yaml"), "git hub", STARTED, 42) == (
        tmp_path / "git_hub-42.yaml"
    )
    assert launch_path(str(tmp_path), "srv", STARTED, 7) == (
        tmp_path / "srv-20261126T101500Z-7.yaml"
    )
    assert is_launch_pattern(str(tmp_path))  # an existing folder
    assert is_launch_pattern("not-yet/")
    assert is_launch_pattern("x-{time}.yaml")
    assert not is_launch_pattern(str(tmp_path / "one.yaml"))


def run_once(record: str, *extra: str) -> tuple[bytes, bytes, int]:
    args = [sys.executable, "-m", "mcp_tap", "stdio", "--record", record, *extra, "--"]
    with spawned([*args, *child("cat")]) as process:
        out, err = process.communicate(line(INITIALIZE), timeout=30)
    return out, err, process.returncode


def test_each_launch_writes_a_new_file(tmp_path: Path) -> None:
    pattern = str(tmp_path / "rec" / "{name}-{time}-{pid}.yaml")
    for _ in range(2):
        out, err, code = run_once(pattern, "--host-entry", "my server")
        assert code == 0 and out == line(INITIALIZE)
    files = sorted((tmp_path / "rec").iterdir())
    assert len(files) == 2 and all(f.name.startswith("my_server-") for f in files)
    for file in files:
        assert load_recording(file).header["transport"] == "stdio"


def test_a_folder_ending_in_a_slash_is_made_and_filled(tmp_path: Path) -> None:
    out, err, code = run_once(str(tmp_path / "new") + "/")
    assert code == 0 and out == line(INITIALIZE)
    (file,) = (tmp_path / "new").iterdir()
    assert file.name.startswith(Path(sys.executable).name + "-")  # the program, unnamed
    assert f"mcp-tap: recording to {file}" in err.decode()


def test_a_recording_that_cannot_be_made_is_one_line_and_the_server_runs(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out, err, code = run_once(str(blocker / "{pid}.yaml"))
    assert code == 0 and out == line(INITIALIZE)  # the host got its server all the same
    lines = err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcp-tap: not recording: cannot create ")


def test_a_plain_record_path_that_cannot_be_used_still_starts_the_server(tmp_path: Path) -> None:
    # A host relaunches the same command line: an existing file (no --force) must not kill it.
    taken = tmp_path / "fs.yaml"
    taken.write_text("mine")
    out, err, code = run_once(str(taken))
    assert code == 0 and out == line(INITIALIZE)
    assert err.decode().splitlines() == [
        f"mcp-tap: not recording: {taken} already exists; use --force to replace it"
    ]
    assert taken.read_text() == "mine"


def test_a_default_recording_folder_that_is_a_file_still_starts_the_server(
    tmp_path: Path,
) -> None:
    (tmp_path / "recordings").write_text("")  # where the default file would go
    args = [sys.executable, "-m", "mcp_tap", "stdio", "--"]
    with spawned([*args, *child("cat")], cwd=tmp_path) as process:
        out, err = process.communicate(line(INITIALIZE), timeout=30)
    assert process.returncode == 0 and out == line(INITIALIZE)
    assert err.decode().splitlines() == [
        "mcp-tap: not recording: cannot create the recording: recordings is not a folder"
    ]

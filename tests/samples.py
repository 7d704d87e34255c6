"""The committed sample recordings the suite reads: named here, never globbed, so a user's own
recordings in `recordings/` (the demo's and the proxy's git-ignored files) can never change
what the suite tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_NAMES = (
    "concurrent-downloads-handshake",
    "download_file-2026-07-28",
    "download_file-handshake",
    "install_package-2026-07-28",
    "install_package-handshake",
    "process_data-2026-07-28",
    "process_data-handshake",
    "sse-2024-11-05",
)
SAMPLES = [ROOT / "recordings" / f"{name}.yaml" for name in SAMPLE_NAMES]


def sample(name: str) -> Path:
    """The committed sample recording `name` (without `.yaml`)."""
    path = ROOT / "recordings" / f"{name}.yaml"
    assert name in SAMPLE_NAMES, f"{name} is not a committed sample"
    return path

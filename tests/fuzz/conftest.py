"""The fuzz suite's budget in CI: small, fixed and deterministic.

`derandomize=True` draws the same inputs on every run, so CI never fails on a new input by
chance: new inputs are `bench/fuzz.py`'s job, with a budget a hundred times larger.
`MCP_TAP_FUZZ_EXAMPLES` raises the budget for one run of the suite.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

CI_PROFILE = "mcp-tap-fuzz-ci"

settings.register_profile(
    CI_PROFILE,
    max_examples=int(os.environ.get("MCP_TAP_FUZZ_EXAMPLES", "150")),
    deadline=None,  # a loaded CI machine is slow now and then; a slow input is no bug here
    derandomize=True,
    database=None,  # nothing remembered between runs: the same inputs every time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

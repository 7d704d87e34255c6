"""Every fuzz target (`targets.TARGETS`) under the CI profile (`conftest.CI_PROFILE`)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from tests.fuzz.conftest import CI_PROFILE
from tests.fuzz.targets import TARGETS, Target

pytestmark = pytest.mark.timeout(300)


def _marks(target: Target) -> list[pytest.MarkDecorator]:
    return [pytest.mark.xfail(strict=False, reason=target.pending)] if target.pending else []


@pytest.mark.parametrize("target", [pytest.param(t, id=t.name, marks=_marks(t)) for t in TARGETS])
def test_property_holds(target: Target) -> None:
    run = given(target.strategy)(settings(settings.get_profile(CI_PROFILE))(target.check))
    run()

"""Every golden case of tests/reference/ must replay through our modules."""

from __future__ import annotations

import pytest

from reference_parity import NoHandler, case_names, check, handler_for, load_case, replay

# the cases were made with 1 thread; fewer summation-order surprises that way
pytestmark = pytest.mark.usefixtures("i2i_one_thread")


@pytest.mark.parametrize("name", case_names())
def test_golden_case(name: str) -> None:
    case = load_case(name)
    try:
        handler_for(case)
    except NoHandler as exc:
        pytest.skip(f"{name}: {exc} (its plugin is not built yet)")
    check(case, replay(case))

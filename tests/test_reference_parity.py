"""Every golden case of tests/reference/ must replay through our modules."""

from __future__ import annotations

import pytest
import torch

from reference_parity import NoHandler, case_names, check, handler_for, load_case, replay


@pytest.fixture(autouse=True)
def _one_thread():
    # the cases were made with 1 thread; fewer summation-order surprises that way
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.mark.parametrize("name", case_names())
def test_golden_case(name: str) -> None:
    case = load_case(name)
    try:
        handler_for(case)
    except NoHandler as exc:
        pytest.skip(f"{name}: {exc} (its plugin is not built yet)")
    check(case, replay(case))

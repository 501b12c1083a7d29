"""Replay golden cases from the reference implementations through i2i's public API.

``replay(case)`` rebuilds our module or recipe from a case dict (see
``tests/reference/README.md``), runs it and returns ``{"outputs": ..., "losses": ...}``
with the same keys and nesting as the case. ``check(case, result)`` applies the
README's tolerance rules and raises ``AssertionError`` naming the first mismatch.

Handlers live per reference in ``tests/parity/*.py``: each module exports
``HANDLERS = {(source, arch): fn(case) -> dict}``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

import torch

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


class NoHandler(LookupError):
    """No replay handler exists (yet) for this case's source/arch."""


def _handlers() -> dict[tuple[str, str], Callable[[dict], dict]]:
    table: dict[tuple[str, str], Callable[[dict], dict]] = {}
    import importlib

    for path in sorted((HERE / "parity").glob("[!_]*.py")):
        mod = importlib.import_module(f"parity.{path.stem}")
        table.update(getattr(mod, "HANDLERS", {}))
    return table


def case_names() -> list[str]:
    index = json.loads((REFERENCE / "index.json").read_text())
    return [c["name"] for c in index["cases"]]


def load_case(name: str) -> dict:
    return torch.load(REFERENCE / "golden" / f"{name}.pt", weights_only=True)


def handler_for(case: dict) -> Callable[[dict], dict]:
    key = (case["source"], case["arch"])
    table = _handlers()
    if key not in table:
        raise NoHandler(f"no replay handler for {key}")
    return table[key]


def replay(case: dict) -> dict:
    """Rebuild and run ``case`` through i2i; return ``{"outputs", "losses"}``."""
    torch.manual_seed(0)
    return handler_for(case)(case)


# --- comparison -------------------------------------------------------------------


def _close(path: str, ref: Any, got: Any, atol: float, rtol: float) -> None:
    if isinstance(ref, torch.Tensor):
        assert isinstance(got, torch.Tensor), f"{path}: expected a tensor, got {type(got).__name__}"
        assert tuple(got.shape) == tuple(ref.shape), f"{path}: shape {tuple(got.shape)} != {tuple(ref.shape)}"
        if not ref.is_floating_point():
            assert torch.equal(got.to(ref.dtype), ref), f"{path}: integer tensor differs"
            return
        g = got.detach().double().cpu()
        r = ref.double()
        ok = torch.allclose(g, r, atol=atol, rtol=rtol)
        assert ok, f"{path}: max abs diff {(g - r).abs().max().item():.3e} (atol {atol}, rtol {rtol})"
    elif isinstance(ref, dict):
        assert isinstance(got, dict), f"{path}: expected a dict"
        for k in ref:
            assert k in got, f"{path}: missing key {k!r}"
            _close(f"{path}.{k}", ref[k], got[k], atol, rtol)
    elif isinstance(ref, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(ref), f"{path}: expected {len(ref)} items"
        for i, (r, g) in enumerate(zip(ref, got, strict=True)):
            _close(f"{path}[{i}]", r, g, atol, rtol)
    elif isinstance(ref, float):
        g = float(got)
        assert math.isclose(g, ref, rel_tol=rtol, abs_tol=atol), f"{path}: {g!r} != {ref!r}"
    else:
        assert got == ref, f"{path}: {got!r} != {ref!r}"


def state_ok(ref: dict, got: dict, tol: dict, net: str, where: str) -> None:
    """The README's three rules (a), (b), (c) for one network's state after a step."""
    noise = set(tol.get("adam_noise_keys", {}).get(net, []))
    bad = tot = 0
    for key, r in ref.items():
        assert key in got, f"{where}.{net}: missing key {key}"
        g = got[key].detach().cpu()
        assert tuple(g.shape) == tuple(r.shape), f"{where}.{net}.{key}: shape {tuple(g.shape)} != {tuple(r.shape)}"
        if not r.is_floating_point():
            assert torch.equal(g.to(r.dtype), r), f"{where}.{net}.{key}: integer buffer differs"
            continue
        d = (g.double() - r.double()).abs()
        limit = tol["adam_noise_atol"] + tol["state_atol"]
        assert d.max() <= limit, f"{where}.{net}.{key}: max abs diff {d.max().item():.3e} > {limit:.3e}"
        if key not in noise:
            bad += int((d > tol["state_atol"] + tol["state_rtol"] * r.double().abs()).sum())
            tot += r.numel()
    frac = tol.get("state_max_mismatch_fraction", 0.01)
    assert bad <= frac * tot, f"{where}.{net}: {bad}/{tot} elements outside tolerance (> {frac:.1%})"


def check(case: dict, result: dict) -> None:
    """Assert that ``result`` reproduces ``case`` within the README's tolerances."""
    tol = case["tolerance"]
    outputs, ref_out = result.get("outputs", {}), case.get("outputs", {})
    for key, ref in ref_out.items():
        assert key in outputs, f"outputs: missing {key!r}"
        if key == "state_after":
            assert len(outputs[key]) == len(ref), f"state_after: {len(outputs[key])} steps != {len(ref)}"
            for k, (r_step, g_step) in enumerate(zip(ref, outputs[key], strict=True), start=1):
                for net, r_state in r_step.items():
                    assert net in g_step, f"state_after[{k}]: missing network {net}"
                    state_ok(r_state, g_step[net], tol, net, f"state_after[step {k}]")
        else:
            _close(f"outputs.{key}", ref, outputs[key], tol["outputs_atol"], tol["outputs_rtol"])
    for key, ref in case.get("losses", {}).items():
        assert key in result.get("losses", {}), f"losses: missing {key!r}"
        _close(f"losses.{key}", float(ref), result["losses"][key], tol["losses_atol"], tol["losses_rtol"])

"""Shared pieces of the replay handlers: one engine, state loading, the train-step driver."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, Callable

import torch
from torch import nn

from i2i_core import Engine, StepContext


@lru_cache(maxsize=1)
def engine() -> Engine:
    """The installed plugins, loaded once for all replays."""
    return Engine(warn=False)


def build_arch(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered architecture through the public registry."""
    return engine().registries.architectures.build(name, **kwargs)


def load_strict(net: nn.Module, state: dict) -> nn.Module:
    """Load a reference state dict with exactly the reference's keys."""
    net.load_state_dict(state, strict=True)
    return net


def snapshot(net: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def run_train_case(
    case: dict,
    recipe: str,
    overrides: dict,
    batch_for_step: Callable[[int], dict],
    net_map: dict[str, str],
) -> dict:
    """Replay a ``train_step`` case through a registered recipe.

    Args:
        case: the golden case.
        recipe: registry name of our recipe.
        overrides: nested run-config overrides (``model``, ``trainer``, ``data``).
        batch_for_step: ``k`` (0-based step) -> the batch dict the recipe gets.
        net_map: reference network name (``netG``) -> our recipe's network name.
    """
    eng = engine()
    run = eng.resolve_config(recipe, overrides=copy.deepcopy(overrides))
    rec = eng.build_recipe(run, device="cpu")
    for ref_name, state in case["state_dict"].items():
        load_strict(rec.nets[net_map[ref_name]], state)
    ctx = StepContext(torch.amp.GradScaler("cpu", enabled=False))
    steps = case["hyper"]["steps"]
    losses: dict[str, float] = {}
    states = []
    extra: dict[str, Any] = {}
    for k in range(steps):
        ctx.step = k + 1
        logs = rec.training_step(batch_for_step(k), ctx)
        for name, value in logs.items():
            losses[f"step{k + 1}.{name}"] = float(value)
        states.append({ref: snapshot(rec.nets[ours]) for ref, ours in net_map.items()})
        if k == 0:  # recipes keep their latest generator outputs in ``visuals``
            extra = {f"{name}_step1": t.detach().clone() for name, t in getattr(rec, "visuals", {}).items()}
    outputs: dict[str, Any] = {"state_after": states}
    for key in case["outputs"]:
        if key in extra:
            outputs[key] = extra[key]
    return {"outputs": outputs, "losses": losses}

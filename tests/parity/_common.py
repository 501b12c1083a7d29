"""Shared pieces of the replay handlers: one engine, state loading, the train-step driver."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, Callable, Iterable

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


#: golden ``<name>_step1`` output -> (our network, whether its input is a tensor of the batch): the
#: generator's output of step 1 before any update (tests/reference/README.md, "store_fake_step1").
#: CycleGAN's G_B first runs on fake_B (rec_A), so it is caught on its first call with a batch tensor.
STEP1_OUTPUTS: dict[str, dict[str, tuple[str, bool]]] = {
    "pix2pix": {"fake_B_step1": ("G", True)},
    "cyclegan": {"fake_B_step1": ("G_A", True), "fake_A_step1": ("G_B", True)},
    "pix2pixhd": {"fake_image_step1": ("G", False)},
}


def _capture_step1(rec: Any, recipe: str, wanted: Iterable[str], batch: dict) -> tuple[dict, list]:
    """Forward hooks that copy the step-1 generator outputs named in ``wanted`` into the returned dict."""
    captured: dict[str, torch.Tensor] = {}
    handles = []
    batch_tensors = [v for v in batch.values() if isinstance(v, torch.Tensor)]
    for key in wanted:
        if key not in STEP1_OUTPUTS.get(recipe, {}):
            continue
        net, from_batch = STEP1_OUTPUTS[recipe][key]

        def hook(module: nn.Module, args: tuple, output: torch.Tensor, key: str = key,
                 from_batch: bool = from_batch) -> None:
            if key in captured or (from_batch and not any(args[0] is t for t in batch_tensors)):
                return
            captured[key] = output.detach().clone()

        handles.append(rec.nets[net].register_forward_hook(hook))
    return captured, handles


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
        batch = batch_for_step(k)
        handles: list = []
        if k == 0:
            extra, handles = _capture_step1(rec, recipe, case["outputs"], batch)
        logs = rec.training_step(batch, ctx)
        for handle in handles:
            handle.remove()
        for name, value in logs.items():
            losses[f"step{k + 1}.{name}"] = float(value)
        states.append({ref: snapshot(rec.nets[ours]) for ref, ours in net_map.items()})
    outputs: dict[str, Any] = {"state_after": states}
    for key in case["outputs"]:
        if key in extra:
            outputs[key] = extra[key]
    return {"outputs": outputs, "losses": losses}

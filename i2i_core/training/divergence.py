"""Non-finite losses, noticed without stalling the device.

Every step the losses are stacked into one tensor and folded into two small device
tensors (which losses went non-finite, and at which step first); nothing is read back.
The trainer calls :meth:`DivergenceGuard.enforce` when it logs and before every checkpoint
write, which is one host sync it pays anyway there, so a non-finite checkpoint is never
written and a diverged run stops within ``log_every`` steps.
"""

from __future__ import annotations

from typing import Callable, Literal, Mapping

import torch

from i2i_core.base.errors import DivergenceError
from i2i_core.io.checkpoint import CheckpointFiles

NanPolicy = Literal["stop", "skip", "ignore"]


class DivergenceGuard:
    """Accumulates per-loss "became non-finite" flags on the device.

    Args:
        policy: ``stop`` (raise at the next check), ``skip`` (optimizer steps with non-finite
            gradients are skipped by :class:`~i2i_core.recipe.contract.StepContext`; losses are only
            reported) or ``ignore`` (no tracking).
        reduce: optional callable combining ``(bad, first)`` over ranks (distributed runs).
    """

    def __init__(self, policy: NanPolicy = "stop",
                 reduce: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None) -> None:
        self.policy = policy
        self.reduce = reduce
        self.names: list[str] = []
        self._bad: torch.Tensor | None = None
        self._first: torch.Tensor | None = None
        self._pending: list[tuple[str, int]] = []

    def observe(self, step: int, logs: Mapping[str, object]) -> dict[str, torch.Tensor]:
        """Detach the step's losses and fold their finiteness into the flags; returns the detached values."""
        values: dict[str, torch.Tensor] = {}
        device = None
        for key, v in logs.items():
            if isinstance(v, torch.Tensor):
                t = v.detach()
                device = device or t.device
            else:
                t = torch.tensor(float(v))  # type: ignore[arg-type]
            values[key] = t
        if self.policy == "ignore" or not values:
            return values
        names = list(values)
        if names != self.names:  # a recipe changed its loss set (rare): read the old flags before starting anew
            self._pending += self._read()
            self.names, self._bad, self._first = names, None, None
        stacked = torch.stack([t.to(device or "cpu", torch.float32).reshape(()) for t in values.values()])
        bad = ~torch.isfinite(stacked)
        if self._bad is None:
            self._bad = bad
            self._first = torch.where(bad, step, 0)
        else:
            assert self._first is not None  # set together with self._bad
            self._first = torch.where(bad & ~self._bad, step, self._first)
            self._bad = self._bad | bad
        return values

    def _read(self) -> list[tuple[str, int]]:
        if self._bad is None or self._first is None:
            return []
        bad, first = self._bad, self._first
        if self.reduce is not None:
            bad, first = self.reduce(bad, first)
        return [(n, int(f)) for n, b, f in zip(self.names, bad.tolist(), first.tolist(), strict=True) if b]

    def check(self) -> list[tuple[str, int]]:
        """``[(loss name, first step it was non-finite), ...]`` since the start (one host sync)."""
        if self.policy == "ignore":
            return []
        found = self._pending + self._read()
        return sorted(found, key=lambda item: item[1])

    def reset(self) -> None:
        """Forget what was seen (after a ``skip`` run reported it)."""
        self._bad = self._first = None
        self._pending = []

    def enforce(self, step: int, when: str, *, skipped: int, last: CheckpointFiles | None,
                log: Callable[[str], None]) -> None:
        """Read the flags (one host sync) and act on the policy: ``skip`` reports and forgets, ``stop`` raises.

        Raises:
            DivergenceError: a loss became non-finite under ``stop``; the message names the loss, the
                step it first did, and the last finite checkpoint ``last``.
        """
        found = self.check()
        if not found:
            return
        name, first = found[0]
        others = f" (also {', '.join(n for n, _ in found[1:])})" if len(found) > 1 else ""
        if self.policy == "skip":
            log(f"loss {name}{others} was non-finite from step {first}; trainer.nan_policy=skip: "
                f"{skipped} optimizer step(s) with non-finite gradients skipped so far")
            self.reset()
            return
        kept = (f"the last finite checkpoint is {last.weights.parent} (step {last.step})" if last is not None
                else "no checkpoint was written")
        raise DivergenceError(
            f"loss {name}{others} became NaN/inf at step {first} (noticed at step {step}, {when}); training "
            f"stopped and {kept}; lower trainer.lr or set trainer.nan_policy=skip")


def nonfinite_tensors(modules: dict[str, torch.nn.Module]) -> list[str]:
    """Names ``net/param`` of parameters or float buffers holding NaN/inf (one host sync for all)."""
    names, tensors = [], []
    for net_name, net in modules.items():
        for key, t in list(net.named_parameters()) + list(net.named_buffers()):
            if t.is_floating_point() and t.numel():
                names.append(f"{net_name}/{key}")
                tensors.append(t.detach())
    if not tensors:
        return []
    by_device: dict[torch.device, list[int]] = {}
    for i, t in enumerate(tensors):
        by_device.setdefault(t.device, []).append(i)
    bad: list[str] = []
    for idxs in by_device.values():
        flags = torch.stack([~torch.isfinite(tensors[i]).all() for i in idxs]).tolist()
        bad += [names[i] for i, f in zip(idxs, flags, strict=True) if f]
    return bad

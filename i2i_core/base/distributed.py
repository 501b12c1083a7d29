"""Multi-process training on torch.distributed (launched with ``torchrun``).

Every network an optimizer trains is wrapped in torch's :class:`DistributedDataParallel`
(:class:`RecipeDDP`) for the duration of ``training_step``, so gradient buckets are
all-reduced while the backward pass is still running, on gloo (CPU) and nccl (CUDA) alike,
and BatchNorm buffers are broadcast from rank 0 at each forward. The checkpoints, EMA,
samples and evaluation keep using the plain modules (no ``module.`` prefixes).

GAN steps freeze a discriminator while its generator trains and run networks several
times per step. DDP allows that under three rules, which the recipes follow:

* a frozen network (no parameter requiring grad) runs without gradient sync: the
  wrapper switches ``require_backward_grad_sync`` off for that forward;
* the set of trainable parameters of a network changes only between epochs (the
  trainer re-wraps it then; pix2pixHD's ``niter_fix_global``), never inside a step:
  a forward with a partly different set is refused with one line;
* each network's parameters receive their gradient from one backward per iteration
  (``step.backward(loss, inputs=...)`` restricts a backward to some networks).

Optimizers holding parameters outside any wrapped network are averaged by
:func:`all_reduce_gradients` before they step, and every checkpoint first checks that
all ranks hold the same weights (:func:`check_ranks_agree`), so a recipe that breaks
the rules stops instead of training ranks apart.
"""

from __future__ import annotations

import atexit
import inspect
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from i2i_core.base.errors import RankMismatchError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job (world 1 = not distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device_type: str) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
        # an undestroyed gloo group aborts the interpreter at exit ("terminate called without an active exception")
        atexit.register(shutdown)
    return DistInfo(rank, world, local)


def shutdown() -> None:
    """Leave the process group (idempotent; registered at exit by :func:`init_from_env`)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _collective_device(t: torch.Tensor) -> torch.Tensor:
    return t if dist.get_backend() != "gloo" else t.cpu()


def reduce_flags(bad: torch.Tensor, first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Combine divergence flags over ranks: a loss is bad if bad anywhere, first seen at the earliest step."""
    b = _collective_device(bad.to(torch.int32))
    f = _collective_device(torch.where(bad, first, torch.full_like(first, 2**62)).to(torch.int64))
    dist.all_reduce(b, op=dist.ReduceOp.MAX)
    dist.all_reduce(f, op=dist.ReduceOp.MIN)
    return b.bool(), torch.where(b.bool(), f, torch.zeros_like(f))


def reduce_max(value: int, device: torch.device) -> int:
    """The largest ``value`` over all ranks (used to agree on stopping at one step)."""
    t = torch.tensor([value], dtype=torch.int64, device=device if dist.get_backend() != "gloo" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def all_reduce_gradients(optimizer: torch.optim.Optimizer, world: int, skip: frozenset[int] = frozenset()) -> None:
    """Average over the ranks the gradients of ``optimizer``'s parameters (but those whose ``id`` is in ``skip``:
    DDP reduced them already)."""
    grads = [p.grad for group in optimizer.param_groups for p in group["params"]
             if p.grad is not None and id(p) not in skip]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def broadcast_module(module: torch.nn.Module) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


# rank 0's buffers (BatchNorm statistics) sent to every rank before each forward; newer torch renamed the option
_BUFFER_SYNC: dict[str, Any] = ({"forward_sync_buffers": True}
                if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
                else {"broadcast_buffers": True})


class RecipeDDP(DistributedDataParallel):
    """:class:`DistributedDataParallel` for a network a GAN step may freeze and run several times.

    The parameters requiring grad when it is built are those DDP reduces. A forward while
    none of them requires grad (a frozen discriminator) skips gradient sync; a forward with
    a partly different trainable set is an error, because DDP would silently leave the
    newly trainable parameters unreduced.
    """

    def __init__(self, module: nn.Module, name: str, device: torch.device) -> None:
        on_cuda = device.type == "cuda"
        super().__init__(module, device_ids=[device.index] if on_cuda and device.index is not None else None,
                         gradient_as_bucket_view=True, **_BUFFER_SYNC)
        self.net_name = name
        self._watched = list(module.parameters())
        self.trainable = trainable_mask(module)

    def forward(self, *args: object, **kwargs: object) -> object:
        mask = tuple(p.requires_grad for p in self._watched)
        training = any(mask)
        if training and mask != self.trainable:
            raise RankMismatchError(
                f"network {self.net_name!r}: {sum(mask)} of its parameters require grad but DDP was set up for "
                f"{sum(self.trainable)}; change which parameters train only between epochs (on_epoch_start), "
                "where the trainer re-wraps the network")
        self.require_backward_grad_sync = training
        return super().forward(*args, **kwargs)


def trainable_mask(module: nn.Module) -> tuple[bool, ...]:
    """Which parameters of ``module`` require grad, in ``parameters()`` order."""
    return tuple(p.requires_grad for p in module.parameters())


def wrap_trained_nets(nets: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                      current: dict[str, RecipeDDP], device: torch.device) -> dict[str, RecipeDDP]:
    """DDP wrappers of the networks whose parameters an optimizer trains (kept where still valid).

    A wrapper is rebuilt when its network's set of trainable parameters changed (a collective
    call: every rank must call this at the same point).
    """
    owned = {id(p) for opt in optimizers.values() for group in opt.param_groups for p in group["params"]}
    out: dict[str, RecipeDDP] = {}
    for name, net in nets.items():
        mask = trainable_mask(net)
        trained = any(flag and id(p) in owned for flag, p in zip(mask, net.parameters(), strict=True))
        if not trained:
            continue
        old = current.get(name)
        out[name] = old if old is not None and old.module is net and old.trainable == mask else RecipeDDP(net, name, device)
    return out


def reduced_parameters(wrappers: dict[str, RecipeDDP]) -> frozenset[int]:
    """``id`` of every parameter DDP averages (the rest are averaged by :func:`all_reduce_gradients`)."""
    return frozenset(id(p) for w in wrappers.values() for p, flag in zip(w._watched, w.trainable, strict=True) if flag)


def check_ranks_agree(nets: dict[str, nn.Module], step: int) -> None:
    """Raise :class:`RankMismatchError` unless every rank holds the same parameters (one collective).

    All-reduced gradients and the same optimizer give bit-identical weights on every rank;
    a difference means a recipe's gradients escaped DDP (see the module docstring).
    """
    names, sums = [], []
    for net_name, net in nets.items():
        for key, p in net.named_parameters():
            names.append(f"{net_name}/{key}")
            sums.append(p.detach().double().sum())
    if not sums:
        return
    local = _collective_device(torch.stack(sums))
    low, high = local.clone(), local.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    differ = [names[i] for i in torch.nonzero(low != high).flatten().tolist()]
    if differ:
        raise RankMismatchError(
            f"step {step}: ranks hold different weights in {differ[0]}"
            f"{f' and {len(differ) - 1} more' if len(differ) > 1 else ''}; the recipe's gradients were not "
            "averaged over the ranks (a second backward through one network in a step?); no checkpoint written")

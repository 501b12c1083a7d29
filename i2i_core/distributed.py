"""Multi-process training on torch.distributed (launched with ``torchrun``).

GAN recipes freeze and unfreeze networks inside one iteration and run a
discriminator several times per step, which DistributedDataParallel's reducer does
not allow without ``find_unused_parameters`` and static-graph caveats. So each rank
keeps plain modules, and :meth:`StepContext.optimizer_step` averages the gradients of
the optimizer's parameters with one ``all_reduce`` per parameter group bucket before
stepping: the same arithmetic as DDP, without its overlap.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


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


def all_reduce_gradients(optimizer: torch.optim.Optimizer, world: int) -> None:
    """Average the gradients of every parameter of ``optimizer`` over the ranks."""
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
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

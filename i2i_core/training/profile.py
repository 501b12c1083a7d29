"""Trainer profiles: ``exact`` (the references' arithmetic, the default) and ``fast``.

``fast`` (``i2i run ... --fast`` or ``trainer.profile=fast``) stacks what measures faster
on the device at hand and says what it chose in one line:

* precision: bf16 autocast on CUDA and on CPUs with native bf16 (``avx512_bf16``/``amx_bf16``
  in ``/proc/cpuinfo``); fp32 elsewhere, where bf16 convolutions take slow reference kernels
  (measured 30-250x slower here);
* fused Adam kernels (CPU and CUDA) instead of the per-parameter loop (about a fifth of a
  pix2pix step on CPU);
* channels_last on CUDA only (measured 0.82-0.91x on CPU for pix2pix and CycleGAN);
* ``torch.compile`` of every network when the run is long enough to pay back the first
  compiled step (48-114 s on CPU): ``trainer.compile`` stays as set for short runs;
* on CPU, glibc ``mallopt`` thresholds that stop the allocator returning and re-faulting the
  large activation buffers every step (about 15% of the pix2pixHD reference step), and one
  OpenMP pool per rank sized to the cores this process may use (oversubscribed ranks ran
  5-10x slower).

What is no longer exact: bf16 rounding (where chosen), the fused optimizer's different
summation order, and compiled kernels' fusion; ``tests/test_profile.py`` bounds how far the
losses of ``fast`` drift from ``exact`` on the demo.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass, field
from typing import Literal

import torch

from i2i_core.config.schema import TrainerConfig
from i2i_core.training.precision import cpu_has_fast_bf16

ProfileName = Literal["exact", "fast"]
#: a run shorter than this does not compile in the fast profile (the first compiled step costs minutes on CPU)
COMPILE_MIN_STEPS = 5000
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


@dataclass
class Profile:
    """What a profile decided for one run; :meth:`summary` is the one line the trainer prints."""

    name: ProfileName
    precision: str
    fused_optimizer: bool
    channels_last: bool
    compile: bool
    threads: int | None = None
    malloc_tuned: bool = False
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [self.precision, "fused Adam" if self.fused_optimizer else "Adam (per-parameter loop)",
                 "channels_last" if self.channels_last else "contiguous", "compiled" if self.compile else "eager"]
        if self.threads:
            parts.append(f"{self.threads} thread{'s' if self.threads > 1 else ''}")
        if self.malloc_tuned:
            parts.append("allocator tuned")
        why = f" ({'; '.join(self.notes)})" if self.notes else ""
        return f"{self.name} profile: {', '.join(parts)}{why}"


def cores_per_rank() -> int:
    """Cores this process may use, shared evenly among the ranks of this node."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, cores // max(1, local_world))


def choose(cfg: TrainerConfig, device: torch.device, total_steps: int | None = None) -> Profile:
    """The settings ``cfg.profile`` stands for on ``device`` (``exact``: ``cfg`` as it is)."""
    if cfg.profile == "exact":
        return Profile("exact", cfg.precision, cfg.fused_optimizer, cfg.channels_last, cfg.compile)
    notes: list[str] = []
    if device.type == "cuda":
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    elif device.type == "cpu" and cpu_has_fast_bf16():
        precision = "bf16"
    else:
        precision = "fp32"
        notes.append("fp32: this CPU has no native bf16")
    channels_last = device.type == "cuda"
    compile_ = cfg.compile or (total_steps is not None and total_steps >= COMPILE_MIN_STEPS)
    if not compile_:
        notes.append(f"not compiled: runs under {COMPILE_MIN_STEPS} steps do not pay back the first compiled step")
    threads = cores_per_rank() if device.type == "cpu" else None
    return Profile("fast", precision, True, channels_last, compile_, threads=threads,
                   malloc_tuned=device.type == "cpu" and _glibc() is not None, notes=notes)


def apply(cfg: TrainerConfig, profile: Profile) -> TrainerConfig:
    """``cfg`` with the profile's choices (a copy); process-wide settings are applied here too."""
    if profile.name == "exact":
        return cfg
    if profile.threads:
        torch.set_num_threads(profile.threads)
    if profile.malloc_tuned:
        tune_malloc()
    return cfg.model_copy(update={"precision": profile.precision, "fused_optimizer": profile.fused_optimizer,
                                  "channels_last": profile.channels_last, "compile": profile.compile})


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "mallopt") else None
    except OSError:
        return None


def tune_malloc(threshold: int = 1 << 30) -> bool:
    """Keep freed activation buffers in the heap instead of unmapping them (glibc only).

    A training step frees and re-allocates the same large buffers every iteration; with the
    default dynamic mmap threshold glibc returns them to the kernel and the next step page-faults
    them back in.
    """
    libc = _glibc()
    if libc is None:
        return False
    ok = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(threshold)) == 1
    ok &= libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(threshold)) == 1
    return bool(ok)

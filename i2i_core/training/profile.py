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

``exact`` pins what its bit-identity depends on (docs/runs.md): the intra-op thread count
(``trainer.threads``, resolved once and recorded in the run's config, so a resume restores it:
CPU reductions split their sums by thread, so another count is another trajectory), torch's
deterministic algorithms and cuDNN's deterministic kernels, and it says in one line what it
cannot pin (a dynamic OpenMP/MKL thread pool, CUDA). :func:`thread_setup` is what a run logs
to ``events.jsonl`` so a run that diverged shows how it was threaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from i2i_core.config.schema import TrainerConfig
from i2i_core.io.report import append_jsonl
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
    #: torch.use_deterministic_algorithms (warn-only) and cuDNN's deterministic kernels
    deterministic: bool = False
    #: what may keep this run from being bit-identical to another (one line each, printed at the start)
    caveats: list[str] = field(default_factory=list)

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


def default_threads() -> int:
    """``trainer.threads`` when unset: ``$OMP_NUM_THREADS`` if the launcher or user set it, else :func:`cores_per_rank`."""
    try:
        env = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        env = 0
    return env if env > 0 else cores_per_rank()


def _dynamic(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def exact_caveats(cfg: TrainerConfig, device: torch.device) -> list[str]:
    """Why this exact run may not repeat bit for bit (empty when nothing is known to stand in the way)."""
    out = []
    dynamic = [n for n in ("OMP_DYNAMIC", "MKL_DYNAMIC") if _dynamic(n)]
    if dynamic:
        out.append(f"{'/'.join(dynamic)}=TRUE lets a loaded machine shrink parallel regions (another summation "
                   f"order); unset it or set it to FALSE for bit-identical runs")
    if device.type == "cuda":
        out.append("CUDA: deterministic kernels requested; an op without one warns, and results differ across "
                   "GPU models and CUDA/cuDNN versions")
    if cfg.compile:
        out.append("trainer.compile: generated kernels may differ across compiler versions")
    return out


def choose(cfg: TrainerConfig, device: torch.device, total_steps: int | None = None) -> Profile:
    """The settings ``cfg.profile`` stands for on ``device`` (``exact``: ``cfg`` as it is, its thread count pinned)."""
    if cfg.profile == "exact":
        return Profile("exact", cfg.precision, cfg.fused_optimizer, cfg.channels_last, cfg.compile,
                       threads=cfg.threads or default_threads(), deterministic=True,
                       caveats=exact_caveats(cfg, device))
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
    threads = cfg.threads or (cores_per_rank() if device.type == "cpu" else None)
    return Profile("fast", precision, True, channels_last, compile_, threads=threads,
                   malloc_tuned=device.type == "cpu" and _glibc() is not None, notes=notes,
                   deterministic=cfg.deterministic)


def apply(cfg: TrainerConfig, profile: Profile) -> TrainerConfig:
    """``cfg`` with the profile's choices (a copy, ``trainer.threads`` resolved so the saved config records it);
    process-wide settings (threads, deterministic algorithms, allocator) are applied here too."""
    if profile.threads:
        torch.set_num_threads(profile.threads)
    set_deterministic(profile.deterministic)
    if profile.name == "exact":
        return cfg if cfg.threads == profile.threads else cfg.model_copy(update={"threads": profile.threads})
    if profile.malloc_tuned:
        tune_malloc()
    return cfg.model_copy(update={"precision": profile.precision, "fused_optimizer": profile.fused_optimizer,
                                  "channels_last": profile.channels_last, "compile": profile.compile,
                                  "threads": profile.threads})


_deterministic_set = False


def set_deterministic(on: bool = True) -> None:
    """Deterministic kernels where torch has them (an op without one warns instead of failing) and cuDNN's.

    ``on=False`` undoes only what an earlier call here set (a caller's own setting stays).
    """
    global _deterministic_set
    if not on:
        if _deterministic_set:
            torch.use_deterministic_algorithms(False)
            torch.backends.cudnn.deterministic = False
            _deterministic_set = False
        return
    _deterministic_set = _deterministic_set or not torch.are_deterministic_algorithms_enabled()
    # cuBLAS reads this when its first handle is created; without it deterministic mode warns on every matmul
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def _omp_dynamic() -> bool | None:
    """The OpenMP runtime's dynamic-threads setting, read from the loaded runtime (None: cannot tell)."""
    try:
        maps = Path(f"/proc/{os.getpid()}/maps").read_text()
    except OSError:
        return None
    libs = sorted({line.split()[-1] for line in maps.splitlines() if "omp" in line.rsplit("/", 1)[-1]
                   and line.split()[-1].startswith("/")})
    for name in libs:
        try:
            lib = ctypes.CDLL(name)
            return bool(lib.omp_get_dynamic())
        except (OSError, AttributeError):
            continue
    return None


def thread_setup() -> dict[str, Any]:
    """How this process computes: what a diverged run's ``events.jsonl`` shows."""
    setup: dict[str, Any] = {"threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
                             "omp_dynamic": _omp_dynamic(),
                             "deterministic": torch.are_deterministic_algorithms_enabled(),
                             "cores_per_rank": cores_per_rank(), "torch": torch.__version__}
    for name in ("OMP_NUM_THREADS", "OMP_DYNAMIC", "MKL_DYNAMIC", "MKL_CBWR"):
        if name in os.environ:
            setup[name] = os.environ[name]
    return setup


def record_start(root: Path | None, profile: Profile | None, step: int) -> None:
    """Append the profile and the thread setup to the run folder's ``events.jsonl`` (no folder: nothing)."""
    if root is None or profile is None:
        return
    append_jsonl(root / "events.jsonl", {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "event": "start",
                                         "step": step, "profile": profile.name, **thread_setup()})


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


#: settings whose change on resume makes the continuation differ from an uninterrupted run's numbers
_CHANGES_NUMERICS = {"trainer.threads": "another thread count sums in another order",
                     "trainer.profile": "another profile computes differently",
                     "trainer.precision": "another precision rounds differently"}


def resume_note(key: str) -> str:
    """What the resume line adds for a changed setting ``key`` (empty for most)."""
    why = _CHANGES_NUMERICS.get(key)
    return f"; the continuation is not bit-identical to an uninterrupted run ({why})" if why else ""

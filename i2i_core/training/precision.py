"""Precision strings -> autocast settings and one grad scaler; device resolution."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from i2i_core.base.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda[:N]`` must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"trainer.device={name!r} but no CUDA device is available; use cpu or auto")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"trainer.device={name!r} but only {torch.cuda.device_count()} CUDA device(s) exist")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("trainer.device='mps' but MPS is not available")
    return torch.device(name)


@dataclass
class Precision:
    """How a step runs: autocast dtype (or none) and whether the grad scaler is on."""

    name: str
    device: torch.device
    dtype: torch.dtype | None
    scaler: torch.amp.GradScaler

    @property
    def device_type(self) -> str:
        return self.device.type

    def autocast(self) -> Any:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU advertises AVX-512 BF16 or AMX (without them bf16 convolutions take a slow path)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True  # not Linux: cannot tell, do not warn
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(name: str, device: torch.device) -> Precision:
    """Map ``fp32|bf16|fp16`` to autocast + scaler; fp16 needs CUDA (bf16 never scales)."""
    if name == "fp32":
        dtype = None
    elif name == "bf16":
        dtype = torch.bfloat16
        if device.type == "cpu" and not cpu_has_fast_bf16():
            warnings.warn("trainer.precision='bf16' on a CPU without AVX-512 BF16/AMX: convolutions fall back to "
                          "slow kernels (measured 30-250x slower than fp32 here); use fp32", stacklevel=2)
    elif name == "fp16":
        if device.type != "cuda":
            raise ConfigError(
                f"trainer.precision='fp16' needs a CUDA device (device is {device.type}); use bf16 on CPU")
        dtype = torch.float16
    else:
        raise ConfigError(f"trainer.precision={name!r}: expected fp32, bf16 or fp16")
    scaler = torch.amp.GradScaler(device.type, enabled=(name == "fp16"))
    return Precision(name, device, dtype, scaler)

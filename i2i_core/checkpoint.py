"""Checkpoints: weights as safetensors files, training state as ``torch.save`` dicts.

Layout of a run folder::

    RUN/config.json                 resolved run config
    RUN/checkpoints/latest.safetensors   network weights + config in the header (inference)
    RUN/checkpoints/latest.pt            training state (optimizers, RNG, counters, pools, ...)
    RUN/checkpoints/step_<n>.{safetensors,pt}

The safetensors format (8-byte little-endian header length, JSON header, raw
little-endian tensor bytes) is written and read here directly, so files open in
any safetensors reader without adding a dependency. Every write goes to a
temporary file in the same folder, is fsynced, then renamed over the target: a
crash never leaves a half-written checkpoint under the final name.
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import CheckpointError

FORMAT_VERSION = 1
_DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}
_FROM_CODE = {v: k for k, v in _DTYPES.items()}
_UMASK = os.umask(0)
os.umask(_UMASK)


@dataclass
class ImportedWeights:
    """What an official-checkpoint importer returns.

    Attributes:
        recipe: registry name of the recipe that can use the weights.
        model: values of the recipe's ``Config`` that rebuild the networks.
        nets: our network name -> state dict.
        data: optional ``data`` overrides (e.g. ``direction``).
    """

    recipe: str
    model: dict[str, Any]
    nets: dict[str, dict[str, torch.Tensor]]
    data: dict[str, Any] = field(default_factory=dict)


# --- atomic writes ------------------------------------------------------------------


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Write a file through ``write(fh)`` into a temp file, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results should read like any other file
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


# --- safetensors --------------------------------------------------------------------


def save_safetensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` (name -> tensor) as a safetensors file; ``metadata`` values are strings."""
    header: dict[str, Any] = {}
    blobs: list[bytes] = []
    offset = 0
    for name, tensor in tensors.items():
        t = tensor.detach().to("cpu").contiguous()
        if t.dtype not in _DTYPES:
            raise CheckpointError(f"cannot save tensor {name!r} of dtype {t.dtype} in safetensors")
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # keep the tensor data 8-byte aligned

    def write(fh: io.BufferedWriter) -> None:
        fh.write(struct.pack("<Q", len(head)))
        fh.write(head)
        for blob in blobs:
            fh.write(blob)

    return atomic_write(path, write)


def load_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file; returns ``(tensors, metadata)``.

    Raises:
        CheckpointError: the file is missing, truncated or not safetensors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    data = path.read_bytes()
    try:
        (n,) = struct.unpack("<Q", data[:8])
        if n > len(data) - 8:
            raise ValueError("header longer than the file")
        header = json.loads(data[8 : 8 + n])
        meta = header.pop("__metadata__", {}) or {}
        base = 8 + n
        tensors: dict[str, torch.Tensor] = {}
        for name, info in header.items():
            start, end = info["data_offsets"]
            if base + end > len(data):
                raise ValueError(f"tensor {name!r} runs past the end of the file")
            dtype = _FROM_CODE[info["dtype"]]
            buf = bytearray(data[base + start : base + end])
            flat = torch.frombuffer(buf, dtype=torch.uint8) if buf else torch.empty(0, dtype=torch.uint8)
            tensors[name] = flat.view(dtype).reshape(info["shape"]).clone()
    except (struct.error, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {path} is truncated or not a safetensors file ({exc})") from None
    return tensors, meta


# --- networks <-> flat tensors ---------------------------------------------------------


def flatten_nets(nets: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """``{"G": {"model.0.weight": t}}`` -> ``{"G/model.0.weight": t}``."""
    return {f"{net}/{key}": t for net, state in nets.items() for key, t in state.items()}


def unflatten_nets(flat: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    nets: dict[str, dict[str, torch.Tensor]] = {}
    for name, t in flat.items():
        net, _, key = name.partition("/")
        nets.setdefault(net, {})[key] = t
    return nets


def save_weights(path: str | Path, nets: dict[str, torch.nn.Module | dict], config: dict, step: int = 0) -> Path:
    """Write the networks' weights with the resolved run config in the header."""
    states = {name: (n.state_dict() if hasattr(n, "state_dict") else n) for name, n in nets.items()}
    meta = {"format": "i2i", "format_version": str(FORMAT_VERSION), "config": json.dumps(config), "step": str(step)}
    return save_safetensors(flatten_nets(states), path, meta)


def load_weights(path: str | Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict, int]:
    """Read a weights file written by :func:`save_weights`: ``(nets, config, step)``."""
    flat, meta = load_safetensors(path)
    if meta.get("format") != "i2i" or "config" not in meta:
        raise CheckpointError(f"{path} is a safetensors file but not an i2i checkpoint (no i2i config in its header)")
    return unflatten_nets(flat), json.loads(meta["config"]), int(meta.get("step", 0))


def load_into(nets: dict[str, torch.nn.Module], states: dict[str, dict], source: str | Path) -> None:
    """Strictly load ``states`` into ``nets``, with one clear error on any mismatch."""
    for name, net in nets.items():
        if name not in states:
            raise CheckpointError(f"{source}: has no weights for network {name!r} (it has {sorted(states)})")
        own = net.state_dict()
        got = states[name]
        missing = [k for k in own if k not in got]
        unexpected = [k for k in got if k not in own]
        wrong = [k for k in own if k in got and tuple(own[k].shape) != tuple(got[k].shape)]
        if missing or unexpected or wrong:
            parts = []
            if missing:
                parts.append(f"missing {missing[:3]}")
            if unexpected:
                parts.append(f"unexpected {unexpected[:3]}")
            if wrong:
                k = wrong[0]
                parts.append(f"shape of {k} is {tuple(got[k].shape)}, expected {tuple(own[k].shape)}")
            raise CheckpointError(
                f"{source}: network {name!r} is of another architecture ({'; '.join(parts)})")
        net.load_state_dict(got, strict=True)


def copy_matching(nets: dict[str, torch.nn.Module], states: dict[str, dict]) -> dict[str, tuple[int, int]]:
    """Copy every tensor whose name and size match (pix2pixHD's ``load_pretrain``).

    Returns:
        ``{net: (copied, total)}`` counts.
    """
    report = {}
    for name, net in nets.items():
        own = net.state_dict()
        src = states.get(name, {})
        copied = 0
        with torch.no_grad():
            for key, t in own.items():
                if key in src and tuple(src[key].shape) == tuple(t.shape):
                    t.copy_(src[key])
                    copied += 1
        report[name] = (copied, len(own))
    return report


# --- training state ------------------------------------------------------------------


def save_state(path: str | Path, state: dict) -> Path:
    """Atomically ``torch.save`` a training-state dict."""
    return atomic_write(path, lambda fh: torch.save(state, fh))


def load_state(path: str | Path) -> dict:
    """Load a training-state dict with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"training state {path} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"training state {path} is truncated or unreadable ({type(exc).__name__}: {exc})") from None


def find_weights(path: str | Path) -> Path:
    """Resolve a run folder, a checkpoints folder or a file to a weights file."""
    path = Path(path)
    if path.is_file():
        return path
    for candidate in (path / "checkpoints" / "latest.safetensors", path / "latest.safetensors"):
        if candidate.is_file():
            return candidate
    if path.exists():
        raise CheckpointError(f"{path} holds no checkpoint (expected {path}/checkpoints/latest.safetensors)")
    raise CheckpointError(f"checkpoint {path} not found")


def find_resume(path: str | Path) -> tuple[Path, Path]:
    """``(weights, state)`` files to resume from a run folder or a ``.safetensors``/``.pt`` file."""
    path = Path(path)
    if path.is_dir():
        weights = find_weights(path)
    elif path.suffix == ".pt":
        weights = path.with_suffix(".safetensors")
    else:
        weights = path
    state = weights.with_suffix(".pt")
    if not weights.is_file() or not state.is_file():
        raise CheckpointError(f"--resume {path}: no checkpoint there (expected latest.safetensors and latest.pt)")
    return weights, state


def load_run(run_dir: str | Path, device: str = "auto", engine: Any = None) -> tuple[Any, Any]:
    """Rebuild a trained run for inference: ``(RunConfig, recipe with its weights loaded)``.

    The recipe gets ``recipe.run_dir`` so that files written beside the run (pix2pixHD's
    feature clusters) are found.
    """
    from .engine import Engine
    from .inference import load_for_inference

    weights = find_weights(run_dir)
    recipe, run = load_for_inference(engine or Engine(warn=False), weights, [], device)
    folder = Path(run_dir)
    recipe.run_dir = folder if folder.is_dir() else weights.parent.parent
    return run, recipe


# --- official (foreign) checkpoint files ------------------------------------------------

_STALE_NORM_KEYS = ("running_mean", "running_var", "num_batches_tracked")


def read_official_state(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a foreign ``.pth`` state dict for an importer, with ``weights_only=True``.

    Unwraps ``{"state_dict": ...}``, drops ``_metadata`` and non-tensor entries and strips
    ``module.`` prefixes (DataParallel/DDP saves).

    Raises:
        CheckpointError: the file is missing, unreadable or not a state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise CheckpointError(f"{path}: expected a state dict (name -> tensor), got {type(obj).__name__}")
    out: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if key == "_metadata" or not isinstance(value, torch.Tensor):
            continue
        while key.startswith("module."):
            key = key[len("module."):]
        out[key] = value
    return out


def drop_stale_instance_norm(state: dict[str, torch.Tensor], net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Delete the running statistics old PyTorch saved for InstanceNorm layers that keep none.

    The prefixes come from ``net`` itself (every InstanceNorm without running stats).
    """
    prefixes = {name for name, m in net.named_modules()
                if isinstance(m, torch.nn.modules.instancenorm._InstanceNorm) and not m.track_running_stats}
    stale = {f"{p}.{s}" for p in prefixes for s in _STALE_NORM_KEYS}
    return {k: v for k, v in state.items() if k not in stale}


def describe_key_mismatch(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> str:
    """``""`` when ``state`` has exactly ``own``'s keys and shapes, else what differs (first few of each)."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(own[k].shape)})"
             for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    return "; ".join(f"{label} ({len(items)}): {', '.join(items[:3])}{', ...' if len(items) > 3 else ''}"
                     for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
                     if items)

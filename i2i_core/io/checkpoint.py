"""Checkpoints: weights as safetensors files, training state as ``torch.save`` dicts, committed atomically.

Layout of a run folder::

    RUN/config.json                           resolved run config
    RUN/checkpoints/latest.json               pointer {"step", "dir", "run_id"} to the newest complete checkpoint
    RUN/checkpoints/step_<n>/model.safetensors   network weights; config, step and run id in the header
    RUN/checkpoints/step_<n>/state.pt            training state (optimizers, RNG, counters, pools, ...)
    RUN/checkpoints/best.json                 pointer to the best-scoring checkpoint (when one is kept)

A checkpoint is written into a private temporary folder, renamed to ``step_<n>`` and only
then published by atomically replacing the pointer (see :func:`commit_checkpoint`), so weights
and state of two different steps can never be paired. Folders of older i2i versions
(``checkpoints/latest.safetensors`` + ``latest.pt``) still load.

The safetensors format (8-byte little-endian header length, JSON header, raw
little-endian tensor bytes) opens in any safetensors reader.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from i2i_core.base.atomic import atomic_write, atomic_write_text, fault_point, fsync_dir  # noqa: F401 (older callers import the writers from here)
from i2i_core.base.errors import CheckpointError, first_line

FORMAT_VERSION = 1
_DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


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


# --- safetensors --------------------------------------------------------------------


def save_safetensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` (name -> tensor) as a safetensors file (atomically); ``metadata`` values are strings."""
    from safetensors.torch import save

    flat = {}
    for name, tensor in tensors.items():
        t = tensor.detach().to("cpu").contiguous()
        if t.dtype not in _DTYPES:
            raise CheckpointError(f"cannot save tensor {name!r} of dtype {t.dtype} in safetensors")
        flat[name] = t
    meta = {k: str(v) for k, v in (metadata or {}).items()}
    try:
        blob = save(flat, metadata=meta)
    except RuntimeError:  # tensors sharing storage (tied weights): the format stores each one on its own
        blob = save({k: t.clone() for k, t in flat.items()}, metadata=meta)
    return atomic_write(path, lambda fh: fh.write(blob))


def load_safetensors(path: str | Path, keep: Callable[[str], bool] | None = None
                     ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file, memory-mapped: only the tensors ``keep(name)`` accepts are read.

    Files written by older i2i versions (their own writer, same format) load the same way.

    Returns:
        ``(tensors, metadata)``.

    Raises:
        CheckpointError: the file is missing, truncated or not safetensors.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {name: fh.get_tensor(name) for name in fh.keys() if keep is None or keep(name)}
    except Exception as exc:  # the library raises its own SafetensorError (and OSError, ValueError)
        raise CheckpointError(f"checkpoint {path} is truncated or not a safetensors file "
                              f"({type(exc).__name__}: {exc})") from None
    return tensors, meta


def tensor_names(path: str | Path) -> list[str]:
    """The names of the tensors in a safetensors file (reads the header only)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            return list(fh.keys())
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path} is truncated or not a safetensors file "
                              f"({type(exc).__name__}: {exc})") from None


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


def save_weights(path: str | Path, nets: Mapping[str, torch.nn.Module | dict], config: dict, step: int = 0,
                 run_id: str = "") -> Path:
    """Write the networks' weights with the resolved run config (and step, run id) in the header."""
    states = {name: (n.state_dict() if hasattr(n, "state_dict") else n) for name, n in nets.items()}
    meta = {"format": "i2i", "format_version": str(FORMAT_VERSION), "config": json.dumps(config), "step": str(step)}
    if run_id:
        meta["run_id"] = run_id
    return save_safetensors(flatten_nets(states), path, meta)


def weights_header(path: str | Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file, reading only its header (step, run id, config)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n > 100_000_000:
                raise ValueError(f"header length {n} is implausible")
            header = json.loads(fh.read(n))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} not found") from None
    except (OSError, struct.error, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is truncated or not a safetensors file ({exc})") from None
    return dict(header.get("__metadata__") or {})


def load_weights(path: str | Path, nets: list[str] | tuple[str, ...] | None = None
                 ) -> tuple[dict[str, dict[str, torch.Tensor]], dict, int]:
    """Read a weights file written by :func:`save_weights`: ``(nets, config, step)``.

    Args:
        path: the ``.safetensors`` file.
        nets: read only these networks' tensors (e.g. ``["G"]`` for inference; the file is
            memory-mapped, so the others cost nothing); None reads every network.
    """
    wanted = None if nets is None else tuple(f"{n}/" for n in nets)
    flat, meta = load_safetensors(path, None if wanted is None else (lambda name: name.startswith(wanted)))
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
        raise CheckpointError(f"training state {path} is truncated or unreadable ({type(exc).__name__}: "
                              f"{first_line(exc)})") from None


# --- the checkpoints folder: committed step folders and pointers ------------------------

WEIGHTS_NAME, STATE_NAME = "model.safetensors", "state.pt"
POINTERS = ("latest", "best")


@dataclass(frozen=True)
class CheckpointFiles:
    """One checkpoint on disk: its weights file, its training-state file (None: weights only), step and run id."""

    weights: Path
    state: Path | None
    step: int | None = None
    run_id: str = ""


def step_dir_name(step: int) -> str:
    return f"step_{step:07d}"


def read_pointer(folder: str | Path, name: str = "latest") -> CheckpointFiles | None:
    """The checkpoint ``checkpoints/<name>.json`` points at; None when there is no pointer.

    Raises:
        CheckpointError: the pointer is unreadable or names a folder that is gone.
    """
    pointer = Path(folder) / f"{name}.json"
    if not pointer.is_file():
        return None
    try:
        info = json.loads(pointer.read_text(encoding="utf-8"))
        target = Path(folder) / info["dir"]
        step, run_id = int(info["step"]), str(info.get("run_id", ""))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{pointer} is unreadable ({exc}); remove it to fall back to the step folders") from None
    if not (target / WEIGHTS_NAME).is_file():
        raise CheckpointError(f"{pointer} points at {target}, which holds no {WEIGHTS_NAME}")
    state = target / STATE_NAME
    return CheckpointFiles(target / WEIGHTS_NAME, state if state.is_file() else None, step, run_id)


def commit_checkpoint(folder: str | Path, step: int, write_weights: Callable[[Path], Any],
                      write_state: Callable[[Path], Any] | None, *, run_id: str = "", keep: int | None = None,
                      pointers: tuple[str, ...] = ("latest",), extra: dict[str, Any] | None = None) -> CheckpointFiles:
    """Write a checkpoint so that it becomes visible all at once or not at all.

    Both files go into a private ``.tmp-step_N-PID`` folder, which is fsynced and renamed to
    ``step_N``; then each pointer (``latest.json``) is replaced atomically. A kill at any
    moment leaves the pointers on the previous complete checkpoint. ``keep`` step folders are
    kept besides those a pointer names (older ones are removed after the commit).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / step_dir_name(step)
    if not (final / WEIGHTS_NAME).is_file() or (write_state is not None and not (final / STATE_NAME).is_file()):
        tmp = folder / f".tmp-{final.name}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        try:
            write_weights(tmp / WEIGHTS_NAME)
            fault_point("checkpoint.weights")
            if write_state is not None:
                write_state(tmp / STATE_NAME)
            fault_point("checkpoint.state")
            fsync_dir(tmp)
            if final.exists():  # an incomplete folder of the same step (older i2i): replace it
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_dir(folder)
    fault_point("checkpoint.commit")
    ref = CheckpointFiles(final / WEIGHTS_NAME, final / STATE_NAME if (final / STATE_NAME).is_file() else None,
                          step, run_id)
    for name in pointers:
        write_pointer(folder, name, ref, extra)
    fault_point("checkpoint.pointer")
    if keep is not None:
        prune_step_dirs(folder, keep)
    return ref


def write_pointer(folder: str | Path, name: str, ref: CheckpointFiles, extra: dict[str, Any] | None = None) -> Path:
    """Atomically make ``checkpoints/<name>.json`` name the committed checkpoint ``ref``."""
    record = {"step": ref.step, "dir": ref.weights.parent.name, "run_id": ref.run_id, **(extra or {})}
    return atomic_write_text(Path(folder) / f"{name}.json", json.dumps(record, indent=2) + "\n")


def prune_step_dirs(folder: str | Path, keep: int) -> None:
    """Remove all but the newest ``keep`` step folders, never one a pointer names."""
    folder = Path(folder)
    named = set()
    for name in POINTERS:
        try:
            ref = read_pointer(folder, name)
        except CheckpointError:
            continue
        if ref is not None:
            named.add(ref.weights.parent.name)
    steps = sorted(p for p in folder.glob("step_*") if p.is_dir())
    for path in steps[: max(0, len(steps) - keep)]:
        if path.name not in named:
            shutil.rmtree(path, ignore_errors=True)


def committed_latest(folder: Path) -> CheckpointFiles | None:
    """The checkpoint a run in ``folder`` (its ``checkpoints/``) continues from: the published ``latest``,
    or an older i2i's ``latest.safetensors`` + ``latest.pt``; None when there is nothing to continue."""
    if not folder.is_dir():
        return None
    ref = read_pointer(folder)
    if ref is None:
        old = _legacy(folder, "latest")
        ref = old if old is not None and old.state is not None else None
    return ref


def _legacy(folder: Path, stem: str) -> CheckpointFiles | None:
    weights = folder / f"{stem}.safetensors"
    if not weights.is_file():
        return None
    state = weights.with_suffix(".pt")
    return CheckpointFiles(weights, state if state.is_file() else None)


def resolve_checkpoint(path: str | Path) -> CheckpointFiles:
    """Resolve what a user names to one checkpoint.

    Accepted: a run folder (its ``latest``), ``RUN@best`` / ``RUN@latest`` / ``RUN@step_N``, a
    checkpoints folder, a ``step_N`` folder, or a weights/state file. Run folders of older i2i
    versions (``checkpoints/latest.safetensors`` + ``latest.pt``) keep loading.
    """
    text = str(path)
    run, _, which = text.rpartition("@") if "@" in Path(text).name else (text, "", "")
    if not run:
        run, which = which, ""
    base = Path(run)
    if which:
        folder = base / "checkpoints" if (base / "checkpoints").is_dir() else base
        if which in POINTERS:
            ref = read_pointer(folder, which) or (_legacy(folder, which) if which == "latest" else None)
        elif which.startswith("step_") and which[5:].isdigit():
            ref = _from_step_dir(folder / step_dir_name(int(which[5:]))) or _legacy(folder, step_dir_name(int(which[5:])))
        else:
            raise CheckpointError(f"{text}: expected RUN@latest, RUN@best or RUN@step_N after the @")
        if ref is None:
            raise CheckpointError(f"{text}: {base} has no {which} checkpoint")
        return ref
    if base.is_file():
        if base.suffix == ".pt":
            weights = base.with_name(WEIGHTS_NAME) if base.name == STATE_NAME else base.with_suffix(".safetensors")
            return CheckpointFiles(weights, base)
        state = base.with_name(STATE_NAME) if base.name == WEIGHTS_NAME else base.with_suffix(".pt")
        return CheckpointFiles(base, state if state.is_file() else None)
    if base.is_dir():
        for folder in (base / "checkpoints", base):
            if not folder.is_dir():
                continue
            ref = read_pointer(folder) or _legacy(folder, "latest") or _from_step_dir(folder)
            if ref is not None:
                return ref
        raise CheckpointError(f"{base} holds no checkpoint (expected {base}/checkpoints/latest.json)")
    raise CheckpointError(f"checkpoint {base} not found")


def _from_step_dir(folder: Path) -> CheckpointFiles | None:
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        return None
    state = folder / STATE_NAME
    return CheckpointFiles(weights, state if state.is_file() else None)


def run_folder_of(weights: str | Path) -> Path:
    """The run folder a checkpoint file belongs to (``RUN/checkpoints/step_N/model.safetensors`` -> ``RUN``)."""
    parent = Path(weights).parent
    if parent.name.startswith("step_") and parent.parent.name == "checkpoints":
        return parent.parent.parent
    if parent.name == "checkpoints":
        return parent.parent
    return parent


def find_weights(path: str | Path) -> Path:
    """Resolve a run folder, ``RUN@best``, a checkpoints folder or a file to a weights file."""
    return resolve_checkpoint(path).weights


def find_resume(path: str | Path) -> tuple[Path, Path]:
    """``(weights, state)`` files to resume from (see :func:`resolve_checkpoint` for what ``path`` may be)."""
    return resumable_files(resolve_checkpoint(path), path)


def resumable_files(ref: CheckpointFiles, path: str | Path) -> tuple[Path, Path]:
    """``(weights, state)`` of a resolved checkpoint; one line when it holds no training state."""
    if ref.state is None or not ref.weights.is_file() or not ref.state.is_file():
        raise CheckpointError(f"--resume {path}: {ref.weights.parent} holds weights but no training state "
                              f"(an imported or inference-only checkpoint); use --init-from to start from it")
    return ref.weights, ref.state


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
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {first_line(exc)})") from None
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

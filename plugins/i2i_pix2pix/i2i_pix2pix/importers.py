"""Import generator checkpoints of junyanz/pytorch-CycleGAN-and-pix2pix.

Reads ``<epoch>_net_G.pth`` files (and the pretrained zoos' ``latest_net_G.pth``) the way
the reference's ``BaseModel.load_networks`` does: ``_metadata`` dropped, stale InstanceNorm
entries of pre-0.4 PyTorch (``running_mean``/``running_var``/``num_batches_tracked`` under an
InstanceNorm module) deleted, then a strict key/shape check. ``module.`` prefixes left by
DataParallel/DDP wrappers are stripped. The model options (width, channels, norm, dropout)
are inferred from the tensors, so ``--arch`` is the only thing to say.

Example:
    ``i2i import-checkpoint --from junyanz --arch unet_256 latest_net_G.pth runs/facades_label2photo``
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from i2i_core import (
    CheckpointError,
    ImportedWeights,
    describe_key_mismatch,
    drop_stale_instance_norm,
    read_official_state,
)

from . import networks

ARCHS = ("unet_256", "unet_128", "unet", "resnet_9blocks", "resnet_6blocks", "resnet")


_read = read_official_state


def _first(state: dict[str, torch.Tensor], key: str, path: Path, arch: str) -> torch.Tensor:
    if key not in state:
        shown = ", ".join(list(state)[:3])
        raise CheckpointError(f"{path}: not a junyanz {arch} generator (no {key}; the file starts with {shown})")
    return state[key]


def infer_model(state: dict[str, torch.Tensor], arch: str, path: Path) -> dict[str, Any]:
    """pix2pix ``model`` options that rebuild the generator stored in ``state``."""
    keys = set(state)
    if arch.startswith("unet"):
        first = _first(state, "model.model.0.weight", path, arch)
        last = _first(state, "model.model.3.weight", path, arch)  # ConvTranspose2d: (in, out, k, k)
        ngf, input_nc, output_nc = first.shape[0], first.shape[1], last.shape[1]
        norm_conv, norm_prefix = "model.model.1.model.1", "model.model.1.model.2"
        model: dict[str, Any] = {"netG": arch}
        if arch == "unet":
            depth = max(k.count("model.") for k in keys)  # one "model." per level plus the wrapper
            model["num_downs"] = depth - 1
        dropout = None  # UNet keys do not depend on dropout; the zoo trained with it
    else:
        first = _first(state, "model.1.weight", path, arch)
        convs = sorted((int(m.group(1)), k) for k in keys if (m := re.fullmatch(r"model\.(\d+)\.weight", k))
                       and state[k].dim() == 4)
        last = state[convs[-1][1]]
        ngf, input_nc, output_nc = first.shape[0], first.shape[1], last.shape[0]
        norm_conv, norm_prefix = "model.1", "model.2"
        model = {"netG": arch}
        blocks = {k.split(".")[1] for k in keys if ".conv_block." in k}
        if arch == "resnet":
            model["n_blocks"] = len(blocks)
        # with dropout the second conv of every block moves from conv_block.5 to conv_block.6
        # (with batch norm conv_block.6 is otherwise the 1-d norm weight)
        dropout = any(k.endswith(".conv_block.6.weight") and state[k].dim() == 4 for k in keys)
    if f"{norm_prefix}.running_mean" in keys and f"{norm_prefix}.weight" in keys:
        norm = "batch"
    elif f"{norm_conv}.bias" in keys:
        norm = "instance"
    else:
        norm = "none"
    model.update({"input_nc": int(input_nc), "output_nc": int(output_nc), "ngf": int(ngf), "norm": norm})
    if dropout is not None:
        model["no_dropout"] = not dropout
    return model


def _build(model: dict[str, Any]) -> nn.Module:
    netG = model["netG"]
    kw: dict[str, Any] = {"ngf": model["ngf"], "norm": model["norm"],
                          "use_dropout": not model.get("no_dropout", False)}
    # shapes and names only: on the meta device, without the (pointless) weight init
    with torch.device("meta"):
        if netG.startswith("unet"):
            downs = networks.UNET_DOWNS.get(netG) or model["num_downs"]
            return networks.UnetGenerator(model["input_nc"], model["output_nc"], downs, **kw)
        blocks = {"resnet_6blocks": 6, "resnet_9blocks": 9}.get(netG) or model["n_blocks"]
        return networks.ResnetGenerator(model["input_nc"], model["output_nc"], n_blocks=blocks, **kw)


def check_keys(state: dict[str, torch.Tensor], net: nn.Module, path: Path, arch: str) -> None:
    """Raise a CheckpointError listing missing/unexpected/mis-shaped keys (first few of each)."""
    problems = describe_key_mismatch(net.state_dict(), state)
    if problems:
        raise CheckpointError(f"{path} does not match a junyanz {arch} generator: {problems}")


def import_junyanz(path: str | Path | list | tuple, arch: str, **overrides: Any) -> ImportedWeights:
    """Convert a junyanz generator checkpoint into pix2pix weights.

    Args:
        path: the ``.pth`` file (``latest_net_G.pth``, ``<epoch>_net_G.pth``, a zoo file); a
            one-element list is accepted (the CLI passes its file arguments as a list).
        arch: ``unet_256``, ``unet_128``, ``resnet_9blocks``, ``resnet_6blocks``, ``unet`` or
            ``resnet`` (the last two infer their depth).
        **overrides: ``model`` options that replace the inferred ones (e.g. ``no_dropout=True``).

    Returns:
        ``ImportedWeights(recipe="pix2pix", model=..., nets={"G": state_dict})``.

    Raises:
        CheckpointError: unreadable file, unknown ``arch`` or keys/shapes that do not match.

    Example:
        >>> w = import_junyanz("latest_net_G.pth", "unet_256")  # doctest: +SKIP
        >>> w.model["ngf"], sorted(w.nets)  # doctest: +SKIP
        (64, ['G'])
    """
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            raise CheckpointError(f"the junyanz importer takes one generator file (.pth), got {len(path)}")
        only: str | Path = path[0]
    else:
        only = path
    path = Path(only)
    if arch not in ARCHS:
        raise CheckpointError(f"--arch {arch!r} is not a junyanz generator; expected one of {', '.join(ARCHS)}")
    state = _read(path)
    model = infer_model(state, arch, path)
    model.update(overrides)
    net = _build(model)
    state = drop_stale_instance_norm(state, net)
    check_keys(state, net, path, arch)
    return ImportedWeights(recipe="pix2pix", model=model, nets={"G": state})

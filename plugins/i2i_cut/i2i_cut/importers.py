"""Import checkpoints of taesungp/contrastive-unpaired-translation (CUT / FastCUT).

``train.py`` saves ``<epoch>_net_G.pth``, ``_net_F.pth`` and ``_net_D.pth``; the pretrained models
of its README are generators only, ``checkpoints/<name>_pretrained/latest_net_G.pth``. The
importer takes a checkpoint folder (``latest`` preferred), one file (a lone file of any name is
the generator) or several files of one epoch. netF and netD are optional: a generator alone
is a complete model for translation.

The networks' options are read off the tensors: widths and channels from the first and last
convolutions, the block count from the ``conv_block`` keys, blur-pool resampling from the
``model.<i>.filt`` buffers (their presence and positions are what ``--no_antialias`` and
``--no_antialias_up`` change), the norm from biases and BatchNorm statistics, dropout from the
block layout, netF's width from ``mlp_0.0``. The files are read the way the reference loads
them (``module.`` prefixes stripped, ``_metadata`` dropped) and every state is checked key by
key and shape by shape against the network the inferred options build, so a file of another
model is refused in one line naming it.

Example:
    ``i2i import-checkpoint --from cut checkpoints/horse2zebra_cut_pretrained/latest_net_G.pth runs/h2z_cut``
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import torch

from i2i_core import (
    CheckpointError,
    ImportedWeights,
    describe_key_mismatch,
    drop_stale_instance_norm,
    read_official_state,
)

from .networks import CUTNLayerDiscriminator, CUTResnetGenerator, PatchSampleF
from .recipe import GENERATORS

_NAME = re.compile(r"^(?P<epoch>.+?)_net_(?P<net>G|D|F)\.pth$")
_FILES = "<epoch>_net_G.pth (and optionally _net_F.pth, _net_D.pth) or a pretrained latest_net_G.pth"
_BLOCKS_TO_NETG = {blocks: name for name, blocks in GENERATORS.items()}


def _as_paths(path: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(path, (str, Path)):
        return [Path(path)]
    return [Path(p) for p in path]


def _files(path: str | Path | Iterable[str | Path]) -> dict[str, Path]:
    """Role (``G``, ``D``, ``F``) -> file."""
    paths = _as_paths(path)
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
        found = [p for p in sorted(folder.glob("*_net_*.pth")) if _NAME.match(p.name)]
        if not found:
            raise CheckpointError(f"{folder} holds no CUT checkpoint (expected {_FILES})")
        epochs = sorted({_NAME.match(p.name)["epoch"] for p in found})  # type: ignore[index]
        epoch = "latest" if "latest" in epochs else epochs[0]
        if len(epochs) > 1 and "latest" not in epochs:
            raise CheckpointError(f"{folder} holds checkpoints of several epochs ({', '.join(epochs)}); pass the files "
                                  f"of one, e.g. {epochs[-1]}_net_G.pth")
        paths = [p for p in found if _NAME.match(p.name)["epoch"] == epoch]  # type: ignore[index]
    roles: dict[str, Path] = {}
    for p in paths:
        m = _NAME.match(p.name)
        if m is None:
            if len(paths) == 1:  # a generator under another name
                roles["G"] = p
                continue
            raise CheckpointError(f"{p}: not a CUT checkpoint name (expected {_FILES})")
        if m["net"] in roles:
            raise CheckpointError(f"{p} and {roles[m['net']]} are both net_{m['net']}; pass one file per network")
        roles[m["net"]] = p
    if "G" not in roles:
        raise CheckpointError(f"{', '.join(map(str, roles.values()))}: no generator; expected {_FILES}")
    return roles


def _key(state: dict[str, torch.Tensor], key: str, path: Path, what: str) -> torch.Tensor:
    if key not in state:
        shown = ", ".join(list(state)[:3]) or "nothing"
        raise CheckpointError(f"{path} is not {what} (no {key}; it starts with {shown})")
    return state[key]


def _norm(state: dict[str, torch.Tensor], conv: str, norm: str) -> str:
    """``batch`` when the norm after ``conv`` keeps statistics, ``instance`` when ``conv`` has a bias, else ``none``."""
    if f"{norm}.running_mean" in state and f"{norm}.weight" in state:
        return "batch"
    return "instance" if f"{conv}.bias" in state else "none"


def infer_generator(state: dict[str, torch.Tensor], path: Path) -> dict[str, Any]:
    """``model.*`` options of a CUT ResNet generator state dict."""
    what = "a CUT ResNet generator"
    first = _key(state, "model.1.weight", path, what)
    if first.dim() != 4 or first.shape[-1] != 7:
        raise CheckpointError(f"{path} is not {what}: model.1.weight has shape {tuple(first.shape)}, expected a 7x7 "
                              f"convolution")
    ngf, input_nc = int(first.shape[0]), int(first.shape[1])
    block_ids = sorted({int(k.split(".")[1]) for k in state if k.startswith("model.") and ".conv_block." in k})
    if not block_ids:
        raise CheckpointError(f"{path} is not {what}: no residual blocks (model.<i>.conv_block.*)")
    no_antialias = block_ids[0] == 10  # stem 4 + two downsamplings of 3 layers (4 with blur-pool: 12)
    if block_ids[0] not in (10, 12):
        raise CheckpointError(f"{path} is not {what}: its residual blocks start at model.{block_ids[0]}, expected "
                              f"model.12 (blur-pool downsampling) or model.10 (--no_antialias)")
    after = block_ids[-1] + 1
    no_antialias_up = f"model.{after}.filt" not in state
    convs = sorted((int(k.split(".")[1]), t) for k, t in state.items()
                   if re.fullmatch(r"model\.\d+\.weight", k) and t.dim() == 4)
    output_nc = int(convs[-1][1].shape[0])
    if any(k.endswith(".conv_block.6.weight") for k in state):
        dropout = True
    elif any(k.endswith(".conv_block.0.weight") for k in state):
        raise CheckpointError(f"{path}: its residual blocks use zero padding (conv_block.0 is a convolution); the CUT "
                              f"reference always pads them by reflection")
    else:
        dropout = False
    blocks = len(block_ids)
    if blocks not in _BLOCKS_TO_NETG:
        raise CheckpointError(f"{path}: {blocks} residual blocks; expected 9, 6 or 4 (resnet_9blocks, resnet_6blocks, "
                              f"resnet_4blocks)")
    return {"netG": _BLOCKS_TO_NETG[blocks], "input_nc": input_nc, "output_nc": output_nc, "ngf": ngf,
            "normG": _norm(state, "model.1", "model.2"), "no_dropout": not dropout, "no_antialias": no_antialias,
            "no_antialias_up": no_antialias_up}


def infer_discriminator(state: dict[str, torch.Tensor], path: Path) -> dict[str, Any]:
    """``model.*`` options of a CUT PatchGAN state dict."""
    first = _key(state, "model.0.weight", path, "a CUT PatchGAN discriminator")
    convs = sorted(int(k.split(".")[1]) for k, t in state.items()
                   if re.fullmatch(r"model\.\d+\.weight", k) and t.dim() == 4)
    n_layers = len(convs) - 2
    no_antialias = "model.2.filt" not in state
    second = convs[1]
    return {"netD": "basic" if n_layers == 3 else "n_layers", "n_layers_D": n_layers, "ndf": int(first.shape[0]),
            "in": int(first.shape[1]), "normD": _norm(state, f"model.{second}", f"model.{second + 1}"),
            "no_antialias": no_antialias}


def _checked(state: dict[str, torch.Tensor], net: torch.nn.Module, path: Path, what: str) -> dict[str, torch.Tensor]:
    state = drop_stale_instance_norm(state, net)
    problems = describe_key_mismatch(net.state_dict(), state)
    if problems:
        raise CheckpointError(f"{path} is not {what}: {problems}")
    return state


def import_cut(path: str | Path | Iterable[str | Path], arch: str | None = None, **overrides: Any) -> ImportedWeights:
    """Convert CUT / FastCUT checkpoints into ``cut`` weights.

    Args:
        path: a checkpoint folder, one file or the files of one epoch (see the module docstring).
        arch: optional ``--arch``: the generator (``resnet_9blocks``, ``resnet_6blocks``,
            ``resnet_4blocks``); checked against what the file holds.
        **overrides: ``model`` options replacing the inferred ones.

    Returns:
        ``ImportedWeights(recipe="cut", model=..., nets={"G": ..., ["D": ..., "F": ...]})``.

    Raises:
        CheckpointError: unreadable or misnamed files, another model's layout, networks of different runs.
    """
    roles = _files(path)
    states = {role: read_official_state(p) for role, p in roles.items()}
    model = infer_generator(states["G"], roles["G"])
    if arch is not None and arch != model["netG"]:
        raise CheckpointError(f"{roles['G']}: --arch {arch} but the file holds a {model['netG']} generator")
    if "D" in states:
        d = infer_discriminator(states["D"], roles["D"])
        if d["in"] != model["output_nc"] or d["no_antialias"] != model["no_antialias"]:
            raise CheckpointError(f"{roles['D']}: a discriminator of {d['in']} channels (antialias "
                                  f"{not d['no_antialias']}) does not fit {roles['G']} ({model['output_nc']} output "
                                  f"channels, antialias {not model['no_antialias']}); expected the networks of one run")
        model.update({k: d[k] for k in ("netD", "n_layers_D", "ndf", "normD")})
    if "F" in states:
        width = _key(states["F"], "mlp_0.0.weight", roles["F"], "a CUT netF (mlp_sample)")
        model["netF_nc"] = int(width.shape[0])
    if model["input_nc"] != model["output_nc"]:
        model["nce_idt"] = False  # NCE_Y feeds B images to G
    model.update(overrides)

    with torch.device("meta"):  # names and shapes only: no memory, no weight init
        G = CUTResnetGenerator(model["input_nc"], model["output_nc"], model["ngf"], model["normG"],
                               not model["no_dropout"], GENERATORS[model["netG"]], "reflect", model["no_antialias"],
                               model["no_antialias_up"])
    nets = {"G": _checked(states["G"], G, roles["G"], f"a CUT {model['netG']} generator")}
    if "D" in states:
        with torch.device("meta"):
            D = CUTNLayerDiscriminator(model["output_nc"], model["ndf"], model["n_layers_D"], model["normD"],
                                       model["no_antialias"])
        nets["D"] = _checked(states["D"], D, roles["D"], "a CUT PatchGAN discriminator")
    if "F" in states:
        layers = sorted({int(k.split(".")[0][len("mlp_"):]) for k in states["F"] if k.startswith("mlp_")})
        with torch.device("meta"):
            F = PatchSampleF(use_mlp=True, nc=model["netF_nc"])
            F.create_mlps([int(states["F"][f"mlp_{i}.0.weight"].shape[1]) for i in layers])
        nets["F"] = _checked(states["F"], F, roles["F"], "a CUT netF (mlp_sample)")
    return ImportedWeights(recipe="cut", model=model, nets=nets)

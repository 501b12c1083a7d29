"""Importer ``pix2pixhd``: NVIDIA checkpoints (``<epoch>_net_G/D/E.pth``) -> i2i weights + config.

The networks' options are read off the tensor shapes (widths, depths, numbers of
blocks, enhancers and scales, input channels, norm); what shapes cannot tell comes
from keyword arguments: ``label_nc`` (else ``G input - edge - features``),
``no_instance`` (default False), ``no_lsgan`` (default False), ``label_feat``.
Every file is checked key for key and shape for shape against our module built on
the meta device (no memory, even for the 180M-parameter 1024p generator), after
dropping ``module.`` prefixes and the InstanceNorm statistics that PyTorch < 0.4.1
files carry.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from i2i_core import (
    CheckpointError,
    ImportedWeights,
    describe_key_mismatch,
    drop_stale_instance_norm,
    read_official_state,
)

from .networks import build_encoder, build_global, build_local, build_multiscale
from .recipe import Pix2PixHDConfig

ROLES = {"G": "G", "D": "D", "E": "E", "global": "G", "local": "G", "multiscale": "D", "encoder": "E",
         "netG": "G", "netD": "D", "netE": "E"}


# --- reading -----------------------------------------------------------------------


read_state = read_official_state


def role_of(path: Path, state: dict, arch: str | None) -> str:
    """``G``, ``D`` or ``E`` from ``arch``, else the file name, else the keys."""
    if arch and arch in ROLES:
        return ROLES[arch]
    match = re.search(r"net_([GDE])\.pth$", path.name)
    if match:
        return match.group(1)
    if any(k.startswith(("scale0_layer", "layer0.")) for k in state):
        return "D"
    if any(k.startswith("model1_1.") or ".conv_block." in k for k in state):
        return "G"
    return "E"


# --- shapes -> options -----------------------------------------------------------------


def _sequential_info(state: dict, prefix: str) -> tuple[list[int], list[tuple[int, tuple]]]:
    """Residual block indices and the other 4-d weights ``(index, shape)`` of ``prefix<i>.*``."""
    blocks, convs = set(), {}
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)\.(.+)$")
    for key, t in state.items():
        m = pattern.match(key)
        if not m:
            continue
        i, rest = int(m.group(1)), m.group(2)
        if rest.startswith("conv_block."):
            blocks.add(i)
        elif rest == "weight" and t.dim() == 4:
            convs[i] = tuple(t.shape)
    return sorted(blocks), sorted(convs.items())


def _norm_of(state: dict, key: str) -> str:
    # BatchNorm (affine) has a weight where InstanceNorm(affine=False) has none
    return "batch" if key in state else "instance"


def _fail(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: {what}")


def infer_generator(state: dict, path: Path) -> dict[str, Any]:
    """Options of a pix2pixHD generator (global or local) from its tensors."""
    if "model.1.weight" not in state:
        raise _fail(path, "no model.1.weight: not a pix2pixHD generator")
    blocks, convs = _sequential_info(state, "model.")
    first = state["model.1.weight"].shape
    n3 = sum(1 for _, s in convs if s[-1] == 3)
    opts: dict[str, Any] = {"n_downsample_global": n3 // 2, "n_blocks_global": len(blocks),
                            "norm": _norm_of(state, "model.2.weight"), "g_input_nc": int(first[1])}
    if any(".conv_block.0." in k for k in state):
        raise _fail(path, "residual blocks use padding_type 'zero', which pix2pixhd's define_G never builds")
    enhancers = sorted({int(m.group(1)) for k in state if (m := re.match(r"^model(\d+)_1\.", k))})
    if enhancers:
        n_local = len(enhancers)
        if enhancers != list(range(1, n_local + 1)):
            raise _fail(path, f"local enhancers {enhancers} are not numbered 1..{n_local}")
        ngf = int(state[f"model{n_local}_1.1.weight"].shape[0])
        if int(first[0]) != ngf * 2**n_local:
            raise _fail(path, f"global part is {int(first[0])} wide, expected ngf {ngf} x 2**{n_local}")
        local_blocks, _ = _sequential_info(state, "model1_2.")
        _, last_convs = _sequential_info(state, f"model{n_local}_2.")
        opts.update(netG="local", ngf=ngf, n_local_enhancers=n_local, n_blocks_local=len(local_blocks),
                    output_nc=int(last_convs[-1][1][0]))
    else:
        opts.update(netG="global", ngf=int(first[0]), output_nc=int(convs[-1][1][0]))
    return opts


def infer_discriminator(state: dict, path: Path) -> dict[str, Any]:
    """Options of a pix2pixHD MultiscaleDiscriminator from its tensors."""
    inter = {(int(m.group(1)), int(m.group(2))) for k in state if (m := re.match(r"^scale(\d+)_layer(\d+)\.", k))}
    if inter:
        num_d = len({i for i, _ in inter})
        n_groups = len({j for i, j in inter if i == 0})
        first = state["scale0_layer0.0.weight"].shape
        return {"num_D": num_d, "n_layers_D": n_groups - 2, "ndf": int(first[0]), "d_input_nc": int(first[1]),
                "no_ganFeat_loss": False, "norm": _norm_of(state, "scale0_layer1.1.weight")}
    scales = sorted({int(m.group(1)) for k in state if (m := re.match(r"^layer(\d+)\.", k))})
    if not scales:
        raise _fail(path, "no scale<i>_layer<j>.* or layer<i>.* keys: not a pix2pixHD MultiscaleDiscriminator")
    _, convs = _sequential_info(state, "layer0.")
    first = state["layer0.0.weight"].shape
    has_bn = any(re.match(r"^layer0\.\d+\.weight$", k) and state[k].dim() == 1 for k in state)
    return {"num_D": len(scales), "n_layers_D": len(convs) - 2, "ndf": int(first[0]), "d_input_nc": int(first[1]),
            "no_ganFeat_loss": True, "norm": "batch" if has_bn else "instance"}


def infer_encoder(state: dict, path: Path) -> dict[str, Any]:
    """Options of a pix2pixHD feature encoder from its tensors."""
    if "model.1.weight" not in state:
        raise _fail(path, "no model.1.weight: not a pix2pixHD encoder")
    _, convs = _sequential_info(state, "model.")
    first = state["model.1.weight"].shape
    return {"nef": int(first[0]), "e_input_nc": int(first[1]), "feat_num": int(convs[-1][1][0]),
            "n_downsample_E": sum(1 for _, s in convs if s[-1] == 3) // 2, "norm": _norm_of(state, "model.2.weight")}


# --- checking -----------------------------------------------------------------------


def _meta_module(role: str, m: dict) -> nn.Module:
    """Our network for the options ``m``, on the meta device (shapes only)."""
    with torch.device("meta"):
        if role == "G":
            kw = dict(input_nc=m["g_input_nc"], output_nc=m["output_nc"], ngf=m["ngf"],
                      n_downsample_global=m["n_downsample_global"], n_blocks_global=m["n_blocks_global"],
                      norm=m["norm"])
            if m["netG"] == "local":
                return build_local(**kw, n_local_enhancers=m["n_local_enhancers"], n_blocks_local=m["n_blocks_local"])
            return build_global(**kw)
        if role == "D":
            return build_multiscale(input_nc=m["d_input_nc"], ndf=m["ndf"], n_layers=m["n_layers_D"], norm=m["norm"],
                                    use_sigmoid=m.get("no_lsgan", False), num_D=m["num_D"],
                                    getIntermFeat=not m["no_ganFeat_loss"])
        return build_encoder(input_nc=m["e_input_nc"], output_nc=m["feat_num"], ngf=m["nef"],
                             n_downsampling=m["n_downsample_E"], norm=m["norm"])


def fit_state(role: str, opts: dict, state: dict, path: Path) -> dict[str, torch.Tensor]:
    """Drop stale InstanceNorm statistics and check ``state`` against our module, key for key.

    Raises:
        CheckpointError: naming the file and the first missing/unexpected/mis-shaped keys.
    """
    net = _meta_module(role, opts)
    state = drop_stale_instance_norm(state, net)
    own = net.state_dict()
    problems = describe_key_mismatch(own, state)
    if problems:
        raise CheckpointError(f"{path}: keys do not fit a pix2pixHD {role} net ({problems})")
    return {k: state[k] for k in own}


# --- the importer ----------------------------------------------------------------------


def import_state_dicts(states: dict[str, tuple[Path, dict]], **kwargs: Any) -> ImportedWeights:
    """Infer the pix2pixhd config of ``{"G"|"D"|"E": (path, state_dict)}`` and check every key.

    Keyword args: ``label_nc``, ``no_instance``, ``no_lsgan``, ``label_feat``, ``output_nc``,
    ``input_nc`` (for ``label_nc=0``): what tensor shapes cannot tell.
    """
    if not states:
        raise CheckpointError("no pix2pixHD network files to import")
    opts: dict[str, dict] = {}
    infer = {"G": infer_generator, "D": infer_discriminator, "E": infer_encoder}
    for role, (path, state) in states.items():
        opts[role] = infer[role](state, path)
        if role == "D":
            opts[role]["no_lsgan"] = bool(kwargs.get("no_lsgan", False))
    model: dict[str, Any] = {}
    no_instance = bool(kwargs.get("no_instance", False))
    edge = 0 if no_instance else 1
    use_feat = "E" in opts or bool(kwargs.get("instance_feat") or kwargs.get("label_feat"))
    feat_num = opts["E"]["feat_num"] if "E" in opts else int(kwargs.get("feat_num", 3))
    output_nc = opts["G"]["output_nc"] if "G" in opts else int(kwargs.get("output_nc", opts.get("E", {}).get(
        "e_input_nc", 3)))
    if "G" in opts:
        g = opts["G"]
        label_channels = g["g_input_nc"] - (feat_num if use_feat else 0)
        model.update({k: g[k] for k in ("netG", "ngf", "n_downsample_global", "n_blocks_global", "norm")})
        if g["netG"] == "local":
            model.update(n_local_enhancers=g["n_local_enhancers"], n_blocks_local=g["n_blocks_local"])
    elif "D" in opts:
        label_channels = opts["D"]["d_input_nc"] - output_nc
    else:
        label_channels = int(kwargs.get("label_nc", 35)) + edge
    first_file = next(iter(states.values()))[0]
    if kwargs.get("label_nc") is None:
        label_nc = label_channels - edge
        if label_nc <= 0:
            raise CheckpointError(f"{first_file}: the input has {label_channels} label channels; "
                                  "pass label_nc= (and no_instance=) to describe it")
    else:
        label_nc = int(kwargs["label_nc"])
    expected = (label_nc if label_nc else int(kwargs.get("input_nc", label_channels - edge))) + edge
    if expected != label_channels:
        raise CheckpointError(f"{first_file}: the input has {label_channels} label channels but label_nc={label_nc} "
                              f"with no_instance={no_instance} gives {expected}")
    # NVIDIA's files hold no VGG and an imported run is for translation or --init-from (whose new run
    # takes its own preset's VGG setting): needing the VGG19 weights file here would only break
    # offline imports
    model.update(label_nc=label_nc, no_instance=no_instance, output_nc=output_nc, no_vgg_loss=True)
    if label_nc == 0:
        model["input_nc"] = label_channels - edge
    if "D" in opts:
        d = opts["D"]
        if d["d_input_nc"] != label_channels + output_nc:
            raise CheckpointError(f"{states['D'][0]}: D takes {d['d_input_nc']} channels, expected labels "
                                  f"{label_channels} + image {output_nc}")
        model.update(num_D=d["num_D"], n_layers_D=d["n_layers_D"], ndf=d["ndf"],
                     no_ganFeat_loss=d["no_ganFeat_loss"], no_lsgan=d["no_lsgan"])
    if "E" in opts:
        e = opts["E"]
        if e["e_input_nc"] != output_nc:
            raise CheckpointError(f"{states['E'][0]}: E takes {e['e_input_nc']} channels, expected {output_nc}")
        label_feat = bool(kwargs.get("label_feat", False))
        model.update(instance_feat=not label_feat, label_feat=label_feat, feat_num=e["feat_num"], nef=e["nef"],
                     n_downsample_E=e["n_downsample_E"])
    norms = {o["norm"] for o in opts.values()}
    if len(norms) > 1:
        raise CheckpointError(f"{first_file}: networks disagree on the norm ({sorted(norms)})")
    try:
        Pix2PixHDConfig.model_validate(model)
    except ValidationError as exc:
        raise CheckpointError(f"{first_file}: inferred options are invalid ({exc})") from None
    nets = {role: fit_state(role, opts[role], state, path) for role, (path, state) in states.items()}
    return ImportedWeights(recipe="pix2pixhd", model=model, nets=nets, data={"dataset": "labels"})


def import_pix2pixhd(path: str | Path, arch: str | None = None, **kwargs: Any) -> ImportedWeights:
    """Import NVIDIA pix2pixHD checkpoints.

    Args:
        path: a ``<epoch>_net_G.pth`` / ``_net_D.pth`` / ``_net_E.pth`` file, or a
            checkpoints folder (``checkpoints/label2city_1024p/``) whose
            ``<which_epoch>_net_{G,D,E}.pth`` files are all imported.
        arch: ``G``/``D``/``E`` (or ``global``/``local``/``multiscale``/``encoder``) for a
            file whose name does not tell; ``None`` or ``auto`` to infer.
        **kwargs: ``which_epoch`` (default ``latest``) and the options of
            :func:`import_state_dicts`.

    Returns:
        ``ImportedWeights(recipe="pix2pixhd", model=<Config values>, nets={"G", "D", "E"})``.

    Raises:
        CheckpointError: a missing file or keys that do not fit, naming the file.
    """
    path = Path(path)
    which = str(kwargs.pop("which_epoch", "latest"))
    if not path.is_dir():
        state = read_state(path)
        return import_state_dicts({role_of(path, state, arch): (path, state)}, **kwargs)
    files = {role: path / f"{which}_net_{role}.pth" for role in "GDE"}
    files = {role: p for role, p in files.items() if p.is_file()}
    if not files:
        raise CheckpointError(f"{path}: no {which}_net_G.pth, {which}_net_D.pth or {which}_net_E.pth inside")
    return import_state_dicts({role: (p, read_state(p)) for role, p in files.items()}, **kwargs)

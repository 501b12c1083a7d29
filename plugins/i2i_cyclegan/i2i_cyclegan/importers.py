"""Import CycleGAN checkpoints of junyanz/pytorch-CycleGAN-and-pix2pix and of the book chapter.

``junyanz_cyclegan`` reads what ``train.py --model cycle_gan`` saves,
``<epoch>_net_G_A.pth``, ``_G_B``, ``_D_A``, ``_D_B`` (a folder, some of the files, or all four),
and the pretrained zoo's single generator ``latest_net_G.pth`` (one direction per file,
resnet_9blocks, instance norm, ngf 64, no dropout). Files are read the way the reference's
``BaseModel.load_networks`` reads them: ``_metadata`` dropped, ``module.`` prefixes of
DataParallel/DDP wrappers stripped, and the running statistics that PyTorch < 0.4 saved for
stateless InstanceNorm layers deleted (with ``norm instance`` every norm layer of a junyanz
network is such a layer). Widths, channels, norm and dropout are inferred from the tensors;
``--arch`` names the generator (``resnet_9blocks``, ``resnet_6blocks``, ``unet_256``,
``unet_128``). The junyanz networks belong to the pix2pix plugin, which this plugin reaches only
through the registry, so the strict key and shape check happens where the core loads the
weights into the networks it built (``i2i import-checkpoint``); what the key names alone show
(block counts, the book's or a U-Net's layout) is checked here.

``book`` reads the book's ``Model.save_to`` files ``<name>_G_AB.pt``, ``_G_BA``, ``_D_A``, ``_D_B``
(plain state dicts or ``{"state_dict": ...}``). The book names its discriminators by the
domain they judge, ours by junyanz's convention, so ``D_A.pt`` becomes our ``D_B`` and
``D_B.pt`` our ``D_A``; ``G_AB``/``G_BA`` become ``G_A``/``G_B``.

A generator file alone is enough for inference: ``G_A`` (or the zoo's ``latest_net_G.pth``)
gives a run translating A -> B, ``G_B`` alone one translating B -> A (``data.direction=BtoA``).

Example:
    ``i2i import-checkpoint --from junyanz_cyclegan --arch resnet_9blocks horse2zebra_pretrained/latest_net_G.pth runs/h2z``
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import torch
from torch import nn

from i2i_core import (
    CheckpointError,
    ImportedWeights,
    describe_key_mismatch,
    drop_stale_instance_norm,
    read_official_state,
)

from .networks import book_discriminator, book_generator

#: junyanz's --netG choices this importer can infer
JUNYANZ_ARCHS = ("resnet_9blocks", "resnet_6blocks", "unet_256", "unet_128")
BOOK_ARCHS = ("book", "book_generator", "book_discriminator")
_JZ_NAME = re.compile(r"^(?P<epoch>.+?)_net_(?P<net>G_A|G_B|D_A|D_B|G|D)\.pth$")
_BOOK_NAME = re.compile(r"^(?P<prefix>.+)_(?P<net>G_AB|G_BA|D_A|D_B)\.pt$")
#: the book's file roles -> our network names (its D_A judges domain A = our D_B)
BOOK_TO_OURS = {"G_AB": "G_A", "G_BA": "G_B", "D_A": "D_B", "D_B": "D_A"}
_JZ_FILES = "<epoch>_net_G_A.pth / _G_B / _D_A / _D_B or a zoo latest_net_G.pth"


# --- reading ----------------------------------------------------------------------------------
read_state = read_official_state
_STALE_NORM_STATS = (".running_mean", ".running_var", ".num_batches_tracked")


def _drop_instance_norm_stats(state: dict[str, torch.Tensor], norm: str) -> dict[str, torch.Tensor]:
    """Without the network at hand: a junyanz net with ``norm instance`` has no layer with running stats."""
    if norm != "instance":
        return state
    return {k: v for k, v in state.items() if not k.endswith(_STALE_NORM_STATS)}


def _as_paths(path: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(path, (str, Path)):
        return [Path(path)]
    return [Path(p) for p in path]


def _named(files: Iterable[Path], pattern: re.Pattern[str]) -> dict[Path, re.Match[str]]:
    """The files whose name matches ``pattern``, each with its match (in the order given)."""
    return {p: m for p in files if (m := pattern.match(p.name))}


def _first_key(state: dict[str, torch.Tensor], key: str, path: Path, expected: str, hint: str = "") -> torch.Tensor:
    if key not in state:
        shown = ", ".join(list(state)[:3]) or "nothing"
        raise CheckpointError(f"{path} is not {expected} (no {key}; it starts with {shown}){hint}")
    return state[key]


def _conv_weights(state: dict[str, torch.Tensor], pattern: str) -> list[tuple[int, torch.Tensor]]:
    rx = re.compile(pattern)
    found = [(int(m.group(1)), t) for k, t in state.items() if (m := rx.fullmatch(k)) and t.dim() == 4]
    return sorted(found, key=lambda it: it[0])


# --- junyanz ------------------------------------------------------------------------------------
def _junyanz_files(path: str | Path | Iterable[str | Path]) -> dict[str, Path]:
    """Role (``G_A``, ``G_B``, ``D_A``, ``D_B`` or ``G`` for a zoo file) -> file."""
    paths = _as_paths(path)
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
        named = _named(sorted(folder.glob("*_net_*.pth")), _JZ_NAME)
        found = list(named)
        epochs = sorted({m["epoch"] for m in named.values()})
        if not found:
            raise CheckpointError(f"{folder} holds no junyanz CycleGAN checkpoint (expected {_JZ_FILES})")
        if len(epochs) > 1:
            if "latest" not in epochs:
                raise CheckpointError(f"{folder} holds checkpoints of several epochs ({', '.join(epochs)}); "
                                      f"pass the files of one epoch, e.g. {epochs[-1]}_net_G_A.pth")
            epochs = ["latest"]
        paths = [p for p in found if named[p]["epoch"] == epochs[0]]
    roles: dict[str, Path] = {}
    for p in paths:
        m = _JZ_NAME.match(p.name)
        if m is None:
            if len(paths) == 1:  # a zoo file under its download name, e.g. horse2zebra.pth
                roles["G"] = p
                continue
            raise CheckpointError(f"{p}: not a junyanz checkpoint name (expected {_JZ_FILES})")
        role = m["net"]
        if role == "D":
            raise CheckpointError(f"{p} is a pix2pix discriminator (net_D); expected CycleGAN files ({_JZ_FILES})")
        if role in roles:
            raise CheckpointError(f"{p} and {roles[role]} are both {role}; pass one file per network ({_JZ_FILES})")
        roles[role] = p
    if "G" in roles and len(roles) > 1:
        raise CheckpointError(f"{roles['G']} is a single (zoo or pix2pix) generator; import it alone, not with "
                              f"{', '.join(str(p) for r, p in roles.items() if r != 'G')}")
    if not {"G", "G_A", "G_B"} & set(roles):
        raise CheckpointError(f"{', '.join(str(p) for p in roles.values())}: discriminators only; expected at least "
                              f"one generator (net_G_A or net_G_B) to translate with")
    return roles


def _infer_junyanz_G(state: dict[str, torch.Tensor], arch: str, path: Path) -> dict[str, Any]:
    """``{netG, in, out, ngf, norm, no_dropout}`` of a junyanz generator state dict."""
    expected = f"a junyanz {arch} generator"
    if arch.startswith("unet"):
        hint = "; a ResNet generator? pass --arch resnet_9blocks" if "model.1.weight" in state else ""
        first = _first_key(state, "model.model.0.weight", path, expected, hint)
        last = _first_key(state, "model.model.3.weight", path, expected, hint)  # ConvTranspose2d (in, out, k, k)
        ngf, c_in, c_out = first.shape[0], first.shape[1], last.shape[1]
        conv, norm_w = "model.model.1.model.1", "model.model.1.model.2.weight"
        dropout = False  # U-Net keys do not depend on dropout; CycleGAN trains without it
    else:
        hint = ("; it is a U-Net (pix2pix) generator: use --from junyanz for pix2pix weights"
                if "model.model.0.weight" in state else "")
        if any(".block." in k for k in state):
            raise CheckpointError(f"{path} is not {expected}: it is the book's generator; use --from book")
        first = _first_key(state, "model.1.weight", path, expected, hint)
        convs = _conv_weights(state, r"model\.(\d+)\.weight")
        ngf, c_in, c_out = first.shape[0], first.shape[1], convs[-1][1].shape[0]
        conv, norm_w = "model.1", "model.2.weight"
        # with dropout the second conv of every block moves from conv_block.5 to conv_block.6
        dropout = any(k.endswith(".conv_block.6.weight") and t.dim() == 4 for k, t in state.items())
        blocks = len({k.split(".")[1] for k in state if ".conv_block." in k})
        want = {"resnet_9blocks": 9, "resnet_6blocks": 6}[arch]
        if blocks != want:
            raise CheckpointError(f"{path} is not {expected}: it has {blocks} residual blocks, not {want}"
                                  f"{f' (pass --arch resnet_{blocks}blocks)' if blocks in (6, 9) else ''}")
    if norm_w in state:
        norm = "batch"
    elif f"{conv}.bias" in state:
        norm = "instance"  # only instance norm keeps the bias of a conv that feeds a norm
    else:
        norm = "none"
    return {"netG": arch, "in": int(c_in), "out": int(c_out), "ngf": int(ngf), "norm": norm, "no_dropout": not dropout}


def _infer_junyanz_D(state: dict[str, torch.Tensor], path: Path) -> dict[str, Any]:
    first = _first_key(state, "model.0.weight", path, "a junyanz PatchGAN discriminator")
    convs = _conv_weights(state, r"model\.(\d+)\.weight")
    if first.shape[-1] == 1:
        netD, n_layers = "pixel", 3
        norm_w, conv = "model.3.weight", "model.2"
    else:
        n_layers = len(convs) - 2
        netD = "basic" if n_layers == 3 else "n_layers"
        norm_w, conv = "model.3.weight", "model.2"
    norm = "batch" if norm_w in state else ("instance" if f"{conv}.bias" in state else "none")
    return {"netD": netD, "n_layers_D": n_layers, "in": int(first.shape[1]), "ndf": int(first.shape[0]), "norm": norm}


def import_junyanz_cyclegan(path: str | Path | Iterable[str | Path], arch: str = "resnet_9blocks",
                            **overrides: Any) -> ImportedWeights:
    """Convert junyanz CycleGAN checkpoints into ``cyclegan`` weights.

    Args:
        path: a checkpoint folder (``latest`` files preferred), one file or a list of files:
            ``<epoch>_net_G_A.pth``, ``_G_B``, ``_D_A``, ``_D_B``, or one zoo generator
            (``latest_net_G.pth`` / ``<name>.pth``), which becomes ``G_A``.
        arch: the generator, one of ``resnet_9blocks``, ``resnet_6blocks``, ``unet_256``, ``unet_128``.
        **overrides: ``model`` options replacing the inferred ones.

    Returns:
        ``ImportedWeights(recipe="cyclegan", model=..., nets={...})`` with ``data.direction=BtoA``
        when only ``G_B`` was given.

    Raises:
        CheckpointError: unreadable or misnamed files, a pix2pix discriminator, the book's or a
            U-Net generator under a ResNet ``arch``, files of different architectures or channel
            counts. Other key or shape mismatches are reported, naming the files, when
            ``i2i_core.inference.loading.import_official`` loads the states into the built networks.
    """
    if arch not in JUNYANZ_ARCHS:
        raise CheckpointError(f"--arch {arch!r} is not a junyanz CycleGAN generator; expected one of "
                              f"{', '.join(JUNYANZ_ARCHS)}")
    roles = _junyanz_files(path)
    if "G" in roles:
        roles = {"G_A": roles["G"]}
    states = {role: read_state(p) for role, p in roles.items()}

    gens: dict[str, dict[str, Any]] = {role: _infer_junyanz_G(states[role], arch, roles[role]) for role in ("G_A", "G_B") if role in states}
    ref_role, ref = next(iter(gens.items()))
    # channels by domain: G_A maps input_nc -> output_nc, G_B the other way
    input_nc, output_nc = (ref["in"], ref["out"]) if ref_role == "G_A" else (ref["out"], ref["in"])
    for role, g in gens.items():
        want = (input_nc, output_nc) if role == "G_A" else (output_nc, input_nc)
        if (g["in"], g["out"]) != want or any(g[k] != ref[k] for k in ("ngf", "norm", "no_dropout")):
            raise CheckpointError(
                f"{roles[role]}: {role} is {g['in']}->{g['out']} channels, ngf {g['ngf']}, norm {g['norm']} but "
                f"{roles[ref_role]} ({ref_role}) implies {want[0]}->{want[1]}, ngf {ref['ngf']}, norm {ref['norm']}; "
                f"expected the networks of one run (another direction or model mixed in?)")
    model: dict[str, Any] = {"variant": "junyanz", "netG": arch, "input_nc": input_nc, "output_nc": output_nc,
                             "ngf": ref["ngf"], "norm": ref["norm"], "no_dropout": ref["no_dropout"]}
    discs = {role: _infer_junyanz_D(states[role], roles[role]) for role in ("D_A", "D_B") if role in states}
    for role, d in discs.items():
        want = output_nc if role == "D_A" else input_nc  # D_A judges domain B images
        if d["in"] != want:
            extra = " (a pix2pix discriminator sees cat(A, B))" if d["in"] == input_nc + output_nc else ""
            raise CheckpointError(f"{roles[role]}: {role} takes {d['in']} channels, expected {want} "
                                  f"(it judges domain {'B' if role == 'D_A' else 'A'} images){extra}")
        if d["norm"] != ref["norm"]:
            raise CheckpointError(f"{roles[role]}: norm {d['norm']} differs from the generators' {ref['norm']}; "
                                  f"expected the networks of one run")
    if discs:
        d = next(iter(discs.values()))
        if any((o["netD"], o["ndf"], o["n_layers_D"]) != (d["netD"], d["ndf"], d["n_layers_D"]) for o in discs.values()):
            raise CheckpointError(f"{roles['D_A']} and {roles['D_B']} are discriminators of different sizes; "
                                  f"expected the networks of one run")
        model.update({"netD": d["netD"], "ndf": d["ndf"], "n_layers_D": d["n_layers_D"]})
    if input_nc != output_nc:
        model["lambda_identity"] = 0.0  # the identity loss needs equal channel counts
    model.update(overrides)

    nets = {role: _drop_instance_norm_stats(state, model["norm"]) for role, state in states.items()}
    data = {"direction": "BtoA"} if "G_A" not in nets else {}
    return ImportedWeights(recipe="cyclegan", model=model, nets=nets, data=data)


# --- book ---------------------------------------------------------------------------------------
def _book_files(path: str | Path | Iterable[str | Path]) -> dict[str, Path]:
    """The book's role (``G_AB``, ``G_BA``, ``D_A``, ``D_B``) -> file."""
    paths = _as_paths(path)
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
        named = _named(sorted(folder.glob("*.pt")), _BOOK_NAME)
        paths = list(named)
        prefixes = sorted({m["prefix"] for m in named.values()})
        if not paths:
            raise CheckpointError(f"{folder} holds no book checkpoint (expected cyclegan_G_AB.pt, cyclegan_G_BA.pt, "
                                  f"cyclegan_D_A.pt, cyclegan_D_B.pt)")
        if len(prefixes) > 1:
            raise CheckpointError(f"{folder} holds several book models ({', '.join(prefixes)}); pass the files of one")
    roles: dict[str, Path] = {}
    for p in paths:
        m = _BOOK_NAME.match(p.name)
        if m is None:
            raise CheckpointError(f"{p}: not a book checkpoint name (expected <name>_G_AB.pt, _G_BA.pt, _D_A.pt or "
                                  f"_D_B.pt, as Model.save_to writes them)")
        if m["net"] in roles:
            raise CheckpointError(f"{p} and {roles[m['net']]} are both {m['net']}; pass one file per network")
        roles[m["net"]] = p
    if not {"G_AB", "G_BA"} & set(roles):
        raise CheckpointError(f"{', '.join(str(p) for p in roles.values())}: discriminators only; expected at least "
                              f"one generator (_G_AB.pt or _G_BA.pt) to translate with")
    return roles


def import_book(path: str | Path | Iterable[str | Path], arch: str = "book", **overrides: Any) -> ImportedWeights:
    """Convert the book's ``cyclegan_*.pt`` files into ``cyclegan`` weights with ``variant=book``.

    Args:
        path: a folder with ``<name>_G_AB.pt`` etc., one file or a list of files.
        arch: ``book`` (also accepted: ``book_generator``, ``book_discriminator``).
        **overrides: ``model`` options replacing the inferred ones.

    Returns:
        ``ImportedWeights(recipe="cyclegan", model={"variant": "book", ...}, nets=...)`` with the
        book's ``G_AB``, ``G_BA``, ``D_A``, ``D_B`` as our ``G_A``, ``G_B``, ``D_B``, ``D_A``.

    Raises:
        CheckpointError: unreadable or misnamed files, junyanz files, inconsistent sizes.
    """
    if arch not in BOOK_ARCHS:
        raise CheckpointError(f"--arch {arch!r}: the book importer takes --arch book")
    roles = _book_files(path)
    states = {role: read_state(p) for role, p in roles.items()}
    sizes: dict[str, tuple[int, int]] = {}  # role -> (channels, width)
    blocks: dict[str, int] = {}
    hints = {role: "; it is a junyanz generator: use --from junyanz_cyclegan"
             if any(".conv_block." in k for k in state) else "" for role, state in states.items()}
    for role, state in states.items():
        if role.startswith("G"):
            first = _first_key(state, "model.1.weight", roles[role], "the book's generator", hints[role])
            sizes[role] = (int(first.shape[1]), int(first.shape[0]))
            blocks[role] = len({k.split(".")[1] for k in state if ".block." in k})
        else:
            first = _first_key(state, "model.0.weight", roles[role], "the book's discriminator")
            sizes[role] = (int(first.shape[1]), int(first.shape[0]))
    ref_role = "G_AB" if "G_AB" in sizes else "G_BA"
    channels, width = sizes[ref_role]
    for role, size in sizes.items():
        if size != (channels, width) or (role in blocks and blocks[role] != blocks[ref_role]):
            raise CheckpointError(f"{roles[role]}: {size[0]} channels, first width {size[1]} differ from "
                                  f"{roles[ref_role]} ({channels} channels, width {width}); expected one model's files")
    if width < 1 or 64 % width:
        raise CheckpointError(f"{roles[ref_role]}: first width {width} is not 64 / k; expected the book's generator")
    model: dict[str, Any] = {"variant": "book", "input_nc": channels, "output_nc": channels,
                             "num_blocks": blocks[ref_role], "width_div": 64 // width}
    model.update(overrides)
    nets: dict[str, dict[str, torch.Tensor]] = {}
    for role, state in states.items():
        ours = BOOK_TO_OURS[role]
        # shapes and names only: on the meta device, without memory or the weight init
        with torch.device("meta"):
            net: nn.Module  # the book's generator or discriminator, by role
            if role.startswith("G"):
                net = book_generator(channels=model["input_nc"], num_blocks=model["num_blocks"],
                                     width_div=model["width_div"])
                what = f"the book's generator ({role})"
            else:
                net = book_discriminator(channels=model["input_nc"], width_div=model["width_div"])
                what = f"the book's discriminator ({role}, our {ours})"
        state = drop_stale_instance_norm(state, net)
        problems = describe_key_mismatch(net.state_dict(), state)
        if problems:
            raise CheckpointError(f"{roles[role]} is not {what}: {problems}{hints[role]}")
        nets[ours] = state
    data = {"direction": "BtoA"} if "G_A" not in nets else {}
    return ImportedWeights(recipe="cyclegan", model=model, nets=nets, data=data)

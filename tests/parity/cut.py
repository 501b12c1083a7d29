"""Replay handlers for the CUT / FastCUT golden cases (cut plugin, taesungp/contrastive-unpaired-translation).

Every handler rebuilds its case from the case's ``config`` and ``hyper`` through the public
registries and the ``cut`` recipe; no case name is special-cased. The train steps drive the
recipe's own ``training_step`` and hand it the recorded random choices (patch ids, flips)
through its ``draws`` seam, where the reference drew them from NumPy.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from i2i_core import StepContext
from i2i_cut.draws import ReplayedDraws
from i2i_cut.recipe import CUTConfig

from ._common import build_arch, engine, load_strict, snapshot


def _generator(case: dict) -> dict:
    c = case["config"]
    net = build_arch("cut_resnet", input_nc=c["input_nc"], output_nc=c["output_nc"], ngf=c["ngf"], norm=c["norm"],
                     use_dropout=c["use_dropout"], n_blocks=c["n_blocks"], padding_type=c["padding_type"],
                     no_antialias=c["no_antialias"], no_antialias_up=c["no_antialias_up"])
    load_strict(net, case["state_dict"])
    net.train(case["mode"] == "train")
    x = case["inputs"]["input"]
    with torch.no_grad():
        out = net(x)
        feats = net(x, c["nce_layers"])
    return {"outputs": {"output": out, "feats": feats}, "losses": {}}


def _discriminator(case: dict) -> dict:
    c = case["config"]
    net = build_arch("cut_n_layers", input_nc=c["input_nc"], ndf=c["ndf"], n_layers=c["n_layers"], norm=c["norm"],
                     no_antialias=c["no_antialias"])
    load_strict(net, case["state_dict"])
    net.train(case["mode"] == "train")
    with torch.no_grad():
        out = net(case["inputs"]["input"])
    return {"outputs": {"output": out}, "losses": {}}


def _patch_sample(case: dict) -> dict:
    c = case["config"]
    feats = case["inputs"]["feats"]
    net = build_arch("patch_sample_f", use_mlp=c["use_mlp"], nc=c["nc"])
    net.create_mlps([f.shape[1] for f in feats])
    load_strict(net, case["state_dict"])
    net.train(case["mode"] == "train")
    with torch.no_grad():
        out = net(feats, case["inputs"]["patch_ids"])
    return {"outputs": {"feats": out}, "losses": {}}


def _patch_nce(case: dict) -> dict:
    c = case["config"]
    loss_fn = engine().registries.losses.build(
        "patch_nce", nce_T=c["nce_T"], all_negatives_from_minibatch=c["nce_includes_all_negatives_from_minibatch"])
    feat_q = case["inputs"]["feat_q"].clone().requires_grad_(True)
    loss = loss_fn(feat_q, case["inputs"]["feat_k"], c["batch_size"])
    (grad,) = torch.autograd.grad(loss.mean(), feat_q)
    return {"outputs": {"loss": loss.detach(), "grad_feat_q": grad}, "losses": {"loss_mean": float(loss.detach().mean())}}


def _gan_loss(case: dict) -> dict:
    c = case["config"]
    loss_fn = engine().registries.losses.build("cut_gan", gan_mode=c["gan_mode"])
    if (c["target_real_label"], c["target_fake_label"]) != (1.0, 0.0):
        raise NotImplementedError("CUT's GAN loss is replayed with the default labels only")
    pred = case["inputs"]["prediction"]
    real, fake = loss_fn(pred, True), loss_fn(pred, False)
    losses = {"loss_real": float(real.mean()), "loss_fake": float(fake.mean())}
    return {"outputs": {"loss_real": real, "loss_fake": fake}, "losses": losses}


def _overrides(case: dict) -> dict[str, Any]:
    """The run config of a train case: the reference's options that the ``cut`` recipe names alike."""
    c, hyper = case["config"], case["hyper"]
    model = {k: v for k, v in {**c, **hyper}.items() if k in CUTConfig.model_fields}
    height, width = case["inputs"]["A"].shape[-2:]
    betas = hyper["betas"]
    return {"model": model,
            "data": {"direction": c["direction"], "load_size": int(height), "crop_size": int(height),
                     "batch_size": int(c["batch_size"])},
            "trainer": {"optimizer": "adam", "lr": float(hyper["lr"]), "beta1": float(betas[0]),
                        "beta2": float(betas[1])}}


def _capture_first_forward(G: nn.Module, n: int, nce_idt: bool) -> tuple[dict[str, torch.Tensor], Any]:
    """Hook that keeps the step's first full G forward: ``fake_B_step1`` (and ``idt_B_step1``)."""
    captured: dict[str, torch.Tensor] = {}

    def hook(module: nn.Module, args: tuple, output: Any) -> None:
        if captured or len(args) != 1:  # args of two = a feature tap, not the image
            return
        captured["fake_B_step1"] = output[:n].detach().clone()
        if nce_idt:
            captured["idt_B_step1"] = output[n:].detach().clone()

    return captured, G.register_forward_hook(hook)


def _train_step(case: dict) -> dict:
    hyper, inputs = case["hyper"], case["inputs"]
    eng = engine()
    run = eng.resolve_config("cut", overrides=_overrides(case))
    rec = eng.build_recipe(run, device="cpu")
    net_map = {ref: ref[len("net"):] for ref in case["state_dict"]}  # netG / netD / netF -> G / D / F
    for ref, state in case["state_dict"].items():
        load_strict(rec.nets[net_map[ref]], state)
    ctx = StepContext(torch.amp.GradScaler("cpu", enabled=False))
    losses: dict[str, float] = {}
    states = []
    extra: dict[str, torch.Tensor] = {}
    order = [int(i) for i in hyper["batch_per_step"]]
    for k in range(int(hyper["steps"])):
        ctx.step = k + 1
        batch = {"A": inputs["A"][order[k]], "B": inputs["B"][order[k]]}
        rec.draws = ReplayedDraws(inputs["patch_ids"][k], flipped=bool(inputs["flipped"][k]))
        handle = None
        if k == 0:
            extra, handle = _capture_first_forward(rec.nets["G"], batch["A"].shape[0], bool(hyper["nce_idt"]))
        logs = rec.training_step(batch, ctx)
        if handle is not None:
            handle.remove()
        for name, value in logs.items():
            losses[f"step{k + 1}.{name}"] = float(value)
        states.append({ref: snapshot(rec.nets[ours]) for ref, ours in net_map.items()})
    outputs: dict[str, Any] = {"state_after": states}
    outputs.update({key: value for key, value in extra.items() if key in case["outputs"]})
    return {"outputs": outputs, "losses": losses}


HANDLERS = {
    ("cut", "ResnetGenerator"): _generator,
    ("cut", "NLayerDiscriminator"): _discriminator,
    ("cut", "PatchSampleF"): _patch_sample,
    ("cut", "PatchNCELoss"): _patch_nce,
    ("cut", "GANLoss"): _gan_loss,
    ("cut", "CUTModel"): _train_step,
}

"""Replay handlers for the junyanz/pytorch-CycleGAN-and-pix2pix golden cases (pix2pix plugin).

Every handler rebuilds the case from its ``config`` through the public registries (no case
names are special-cased), runs it and returns ``{"outputs": ..., "losses": ...}``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ._common import build_arch, engine, load_strict, run_train_case

#: reference discriminator class -> (our registered name, how its config maps to our kwargs)
_D_BUILDERS: dict[str, Callable[[dict], nn.Module]] = {
    "NLayerDiscriminator": lambda c: build_arch("n_layers", input_nc=c["input_nc"], ndf=c["ndf"],
                                                n_layers=c["n_layers"], norm=c["norm"]),
    "PixelDiscriminator": lambda c: build_arch("pixel", input_nc=c["input_nc"], ndf=c["ndf"], norm=c["norm"]),
}


def _buffers(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: b.detach().clone() for k, b in net.named_buffers()}


def _run_module(case: dict, net: nn.Module) -> dict:
    """Load the case's weights, set its mode, forward ``inputs.input``."""
    load_strict(net, case["state_dict"])
    train = case["mode"] == "train"
    net.train(train)
    with torch.no_grad():
        out = net(case["inputs"]["input"])
    outputs: dict[str, Any] = {"output": out}
    if train:
        outputs["buffers_after"] = _buffers(net)
    return {"outputs": outputs, "losses": {}}


def unet_generator(case: dict) -> dict:
    c = case["config"]
    net = build_arch("unet", input_nc=c["input_nc"], output_nc=c["output_nc"], num_downs=c["num_downs"],
                     ngf=c["ngf"], norm=c["norm"], use_dropout=c["use_dropout"])
    return _run_module(case, net)


def resnet_generator(case: dict) -> dict:
    c = case["config"]
    net = build_arch("resnet", input_nc=c["input_nc"], output_nc=c["output_nc"], ngf=c["ngf"], norm=c["norm"],
                     use_dropout=c["use_dropout"], n_blocks=c["n_blocks"], padding_type=c.get("padding_type", "reflect"))
    return _run_module(case, net)


def nlayer_discriminator(case: dict) -> dict:
    return _run_module(case, _D_BUILDERS["NLayerDiscriminator"](case["config"]))


def pixel_discriminator(case: dict) -> dict:
    return _run_module(case, _D_BUILDERS["PixelDiscriminator"](case["config"]))


def gan_loss(case: dict) -> dict:
    c = case["config"]
    loss = engine().registries.losses.build("gan", gan_mode=c["gan_mode"], target_real_label=c["target_real_label"],
                                            target_fake_label=c["target_fake_label"])
    pred = case["inputs"]["prediction"]
    real, fake = loss(pred, True), loss(pred, False)
    return {"outputs": {"loss_real": real, "loss_fake": fake},
            "losses": {"loss_real": float(real), "loss_fake": float(fake)}}


def gradient_penalty(case: dict) -> dict:
    from i2i_core.recipe.losses import gradient_penalty as penalty_fn

    c = case["config"]
    d_cfg = dict(c["netD"])
    netD = _D_BUILDERS[d_cfg.pop("arch")](d_cfg)
    load_strict(netD, case["state_dict"])
    netD.train(case["mode"] == "train")
    inputs = case["inputs"]
    gp, grads = penalty_fn(netD, inputs["real_data"], inputs["fake_data"], type=c["type"], constant=c["constant"],
                           lambda_gp=c["lambda_gp"], alpha=inputs.get("alpha"))
    gp_t = torch.as_tensor(gp).detach()
    outputs: dict[str, Any] = {"gradient_penalty": gp_t}
    if grads is not None:
        outputs["gradients"] = grads.detach()
    return {"outputs": outputs, "losses": {"gradient_penalty": float(gp_t)}}


def pix2pix_model(case: dict) -> dict:
    from i2i_pix2pix.recipe import Pix2PixConfig

    c, hyper = case["config"], case["hyper"]
    model = {k: v for k, v in c.items() if k in Pix2PixConfig.model_fields}
    trainer: dict[str, Any] = {"lr": c.get("lr", hyper.get("lr")), "beta1": c.get("beta1", hyper["betas"][0])}
    if "betas" in hyper:
        trainer["beta2"] = float(hyper["betas"][1])
    A, B = case["inputs"]["A"], case["inputs"]["B"]
    if c.get("direction", "AtoB") == "BtoA":  # i2i readers swap the pair where the reference's set_input does
        A, B = B, A
    size = A.shape[-1]
    data = {"direction": c.get("direction", "AtoB"), "load_size": size, "crop_size": size}
    overrides = {"model": model, "trainer": trainer, "data": data}
    order = [int(i) for i in hyper["batch_per_step"]]
    return run_train_case(case, "pix2pix", overrides, lambda k: {"A": A[order[k]], "B": B[order[k]]},
                          {"netG": "G", "netD": "D"})


HANDLERS = {
    ("junyanz", "UnetGenerator"): unet_generator,
    ("junyanz", "ResnetGenerator"): resnet_generator,
    ("junyanz", "NLayerDiscriminator"): nlayer_discriminator,
    ("junyanz", "PixelDiscriminator"): pixel_discriminator,
    ("junyanz", "GANLoss"): gan_loss,
    ("junyanz", "cal_gradient_penalty"): gradient_penalty,
    ("junyanz", "Pix2PixModel"): pix2pix_model,
}

"""Replay handlers for the NVIDIA pix2pixHD golden cases (source ``pix2pixhd``).

Networks and losses are built through the public registries; the train steps go
through the ``pix2pixhd`` recipe with ``_common.run_train_case``.
"""

from __future__ import annotations

from typing import Any

import torch

from ._common import build_arch, engine, load_strict, run_train_case

# reference option name -> where it goes in our run config
_TRAINER_KEYS = {"lr": "lr", "beta1": "beta1"}


def _with_buffers(case: dict, net: torch.nn.Module, outputs: dict) -> dict:
    """Train-mode cases also pin the BatchNorm running statistics after the forward."""
    if case["mode"] == "train":
        outputs["buffers_after"] = {k: b.detach().clone() for k, b in net.named_buffers()}
    return {"outputs": outputs, "losses": {}}


def _net_forward(arch: str):
    def handler(case: dict) -> dict:
        net = load_strict(build_arch(arch, **case["config"]), case["state_dict"])
        net.train(case["mode"] == "train")
        with torch.no_grad():
            out = net(case["inputs"]["input"])
        return _with_buffers(case, net, {"output": out})

    return handler


def _encoder(case: dict) -> dict:
    from i2i_pix2pixhd.networks import instance_mean  # lazily: other references replay without this plugin

    net = load_strict(build_arch("encoder", **case["config"]), case["state_dict"])
    net.train(case["mode"] == "train")
    with torch.no_grad():
        # one forward (a second would move BatchNorm statistics twice in train mode);
        # E.forward is exactly instance_mean(E.model(x), inst)
        raw = net.model(case["inputs"]["input"])
        out = instance_mean(raw, case["inputs"]["inst"])
    return _with_buffers(case, net, {"raw": raw, "output": out})


def _encode_input(case: dict) -> dict:
    from i2i_pix2pixhd.inputs import encode_input

    cfg = case["config"]
    out = encode_input(dict(case["inputs"]), cfg["label_nc"], cfg["no_instance"])
    return {"outputs": {"input_label": out}, "losses": {}}


def _losses_from(values: dict[str, torch.Tensor]) -> dict:
    return {"outputs": dict(values), "losses": {k: float(v) for k, v in values.items()}}


def _gan_loss(case: dict) -> dict:
    loss = engine().registries.losses.build("pix2pixhd_gan", **case["config"])
    pred = case["inputs"]["pred"]
    return _losses_from({"loss_real": loss(pred, True), "loss_fake": loss(pred, False)})


def _feature_matching(case: dict) -> dict:
    cfg, inputs = case["config"], case["inputs"]
    losses = engine().registries.losses
    gan = losses.build("pix2pixhd_gan", use_lsgan=not cfg.get("no_lsgan", False))
    feat = losses.build("pix2pixhd_feat", num_D=cfg["num_D"], n_layers_D=cfg["n_layers_D"],
                        lambda_feat=cfg["lambda_feat"])
    return _losses_from({
        "G_GAN": gan(inputs["pred_fake"], True),
        "G_GAN_Feat": feat(inputs["pred_fake"], inputs["pred_real"]),
        "D_real": gan(inputs["pred_real"], True),
        "D_fake": gan(inputs["pred_fake_pool"], False),
    })


def _train(case: dict) -> dict:
    from i2i_pix2pixhd.recipe import Pix2PixHDConfig

    cfg, hyper = case["config"], case["hyper"]
    model = {k: v for k, v in cfg.items() if k in Pix2PixHDConfig.model_fields}
    trainer: dict[str, Any] = {ours: cfg[ref] for ref, ours in _TRAINER_KEYS.items() if ref in cfg}
    if "betas" in hyper:
        trainer["beta1"], trainer["beta2"] = (float(b) for b in hyper["betas"])
    if "lr" in hyper:
        trainer["lr"] = float(hyper["lr"])
    trainer["device"] = "cpu"
    inputs = case["inputs"]

    def batch_for_step(k: int) -> dict:
        index = hyper["batch_per_step"][k]
        batch = {name: t[index] for name, t in inputs.items() if isinstance(t, torch.Tensor)}
        batch["label_path"] = [f"{case['name']}[{index}]"] * batch["label"].shape[0]
        return batch

    net_map = {ref: ref[3:] for ref in case["state_dict"]}  # netG -> G, netD -> D, netE -> E
    return run_train_case(case, "pix2pixhd", {"model": model, "trainer": trainer}, batch_for_step, net_map)


HANDLERS = {
    ("pix2pixhd", "GlobalGenerator"): _net_forward("global"),
    ("pix2pixhd", "LocalEnhancer"): _net_forward("local"),
    ("pix2pixhd", "MultiscaleDiscriminator"): _net_forward("multiscale"),
    ("pix2pixhd", "NLayerDiscriminator"): _net_forward("hd_n_layers"),
    ("pix2pixhd", "Encoder"): _encoder,
    ("pix2pixhd", "encode_input"): _encode_input,
    ("pix2pixhd", "GANLoss"): _gan_loss,
    ("pix2pixhd", "FeatureMatchingLoss"): _feature_matching,
    ("pix2pixhd", "Pix2PixHDModel"): _train,
}

"""Replay handlers for the CycleGAN golden cases (cyclegan plugin): junyanz and the book.

Every handler rebuilds its case from the case's ``config`` and ``hyper`` through the public
registries and the ``cyclegan`` recipe; no case name is special-cased.

Network names: junyanz's ``netG_A``/``netG_B``/``netD_A``/``netD_B`` are ours without ``net``;
the book names its discriminators by the domain they judge, so its ``netD_A`` (judges A) is
our ``D_B`` and its ``netD_B`` our ``D_A`` (``netG_AB``/``netG_BA`` are ``G_A``/``G_B``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from i2i_cyclegan.importers import BOOK_TO_OURS
from i2i_cyclegan.recipe import CycleGANConfig

from ._common import build_arch, load_strict, run_train_case


def _forward(case: dict, net: nn.Module) -> dict:
    load_strict(net, case["state_dict"])
    net.train(case["mode"] == "train")
    with torch.no_grad():
        out = net(case["inputs"]["input"])
    return {"outputs": {"output": out}, "losses": {}}


def book_generator(case: dict) -> dict:
    c = case["config"]
    net = build_arch("book_generator", channels=c["channels"], num_blocks=c.get("num_blocks", 9),
                     width_div=c.get("width_div", 1))
    return _forward(case, net)


def book_discriminator(case: dict) -> dict:
    c = case["config"]
    return _forward(case, build_arch("book_discriminator", channels=c["channels"], width_div=c.get("width_div", 1)))


def _trainer(hyper: dict, config: dict) -> dict[str, Any]:
    """Adam settings of a train case (fresh optimizers, no schedule step inside the case)."""
    betas = hyper.get("betas", [config.get("beta1", 0.5), 0.999])
    return {"lr": float(config.get("lr", hyper["lr"])), "beta1": float(betas[0]), "beta2": float(betas[1]),
            "optimizer": "adam"}


def _batches(case: dict):
    inputs = case["inputs"]
    order = [int(i) for i in case["hyper"]["batch_per_step"]]  # step k uses inputs[name][order[k]]
    return lambda k: {"A": inputs["A"][order[k]], "B": inputs["B"][order[k]]}


def _image_size(case: dict) -> int:
    return int(case["inputs"]["A"].shape[-1])


def junyanz_cyclegan(case: dict) -> dict:
    c, hyper = case["config"], case["hyper"]
    model = {k: v for k, v in c.items() if k in CycleGANConfig.model_fields}
    model["variant"] = "junyanz"
    size = _image_size(case)
    # the recipe undoes the readers' BtoA swap, so the reference's (A, B) go in unchanged
    data = {"direction": c.get("direction", "AtoB"), "load_size": size, "crop_size": size}
    overrides = {"model": model, "trainer": _trainer(hyper, c), "data": data}
    net_map = {ref: ref[len("net"):] for ref in case["state_dict"]}
    return run_train_case(case, "cyclegan", overrides, _batches(case), net_map)


def book_cyclegan(case: dict) -> dict:
    c, hyper = case["config"], case["hyper"]
    lambda_cyc, lambda_iden = float(hyper["lambda_cyc"]), float(hyper["lambda_iden"])
    model = {"variant": "book", "input_nc": c["channels"], "output_nc": c["channels"],
             "num_blocks": c.get("num_blocks", 9), "width_div": c.get("width_div", 1),
             # the book's lambda_cyc weighs both cycle terms and lambda_iden = lambda_cyc * lambda_identity
             "lambda_A": lambda_cyc, "lambda_B": lambda_cyc, "lambda_identity": lambda_iden / lambda_cyc}
    size = int(c.get("img_size", _image_size(case)))
    data = {"load_size": size, "crop_size": size}
    overrides = {"model": model, "trainer": _trainer(hyper, c), "data": data}
    net_map = {ref: BOOK_TO_OURS[ref[len("net"):]] for ref in case["state_dict"]}
    return run_train_case(case, "cyclegan", overrides, _batches(case), net_map)


HANDLERS = {
    ("junyanz", "CycleGANModel"): junyanz_cyclegan,
    ("book", "Generator"): book_generator,
    ("book", "Discriminator"): book_discriminator,
    ("book", "CycleGAN"): book_cyclegan,
}

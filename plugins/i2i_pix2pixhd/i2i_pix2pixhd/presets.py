"""Presets mirroring NVIDIA's ``scripts/train_*.sh`` (Cityscapes label2city), plus a CPU demo.

Option mapping: ``--loadSize`` -> ``data.load_size``, ``--fineSize`` -> ``data.crop_size``,
``--resize_or_crop`` -> ``data.preprocess``, ``--niter``/``--niter_decay`` ->
``trainer.n_epochs``/``trainer.n_epochs_decay``, ``--load_pretrain DIR`` ->
``trainer.init_from`` (copies every tensor whose name and size match).
"""

from __future__ import annotations

from typing import Any

# staged presets and the preset whose run they start from (trainer.init_from)
STAGED_FROM = {"1024p": "512p", "1024p_12G": "512p", "1024p_feat": "512p_feat", "2048p": "1024p"}

_CITY = {"label_nc": 35, "netG": "global", "ngf": 64, "num_D": 2}
_LOCAL = {"label_nc": 35, "netG": "local", "ngf": 32, "num_D": 3, "n_local_enhancers": 1}
_HALF = {"preprocess": "scale_width", "load_size": 1024, "crop_size": 512}

PRESETS: dict[str, tuple[dict[str, Any], str]] = {
    "512p": (
        {"model": dict(_CITY), "data": dict(_HALF), "trainer": {"n_epochs": 100, "n_epochs_decay": 100}},
        "label2city_512p (train_512p.sh): global G ngf 64, num_D 2, images scaled to 1024x512"),
    "512p_feat": (
        {"model": {**_CITY, "instance_feat": True}, "data": dict(_HALF),
         "trainer": {"n_epochs": 100, "n_epochs_decay": 100}},
        "label2city_512p_feat (train_512p_feat.sh): 512p plus instance-wise encoded features (trains E)"),
    "1024p": (
        {"model": {**_LOCAL, "niter_fix_global": 10},
         "data": {"preprocess": "none", "load_size": 2048, "crop_size": 2048},
         "trainer": {"n_epochs": 50, "n_epochs_decay": 50}},
        "label2city_1024p (train_1024p_24G.sh): local G ngf 32, num_D 3, full 2048x1024 images, "
        "10 epochs enhancer only; needs trainer.init_from=<512p run>"),
    "1024p_12G": (
        {"model": {**_LOCAL, "niter_fix_global": 20},
         "data": {"preprocess": "crop", "load_size": 2048, "crop_size": 1024},
         "trainer": {"n_epochs": 100, "n_epochs_decay": 100}},
        "label2city_1024p on 12 GB (train_1024p_12G.sh): 1024x1024 random crops, 20 epochs enhancer only; "
        "needs trainer.init_from=<512p run>"),
    "1024p_feat": (
        {"model": {**_LOCAL, "niter_fix_global": 10, "instance_feat": True},
         "data": {"preprocess": "none", "load_size": 2048, "crop_size": 2048},
         "trainer": {"n_epochs": 50, "n_epochs_decay": 50}},
        "label2city_1024p_feat (train_1024p_feat_24G.sh): 1024p with instance features; E keeps training "
        "(seeded from the 512p_feat run) instead of loading precomputed maps; needs trainer.init_from=<512p_feat run>"),
    "2048p": (
        {"model": {**_LOCAL, "ngf": 16, "n_local_enhancers": 2, "num_D": 4, "niter_fix_global": 10},
         "data": {"preprocess": "none", "load_size": 4096, "crop_size": 4096},
         "trainer": {"n_epochs": 50, "n_epochs_decay": 50}},
        "4096x2048 with two local enhancers (ngf 16: global 64, enhancers 32 and 16 wide, so a 1024p run "
        "seeds all but the new finest enhancer); needs trainer.init_from=<1024p run> and 4096-wide images"),
    "demo": (
        {"model": {"label_nc": 5, "netG": "global", "ngf": 8, "n_downsample_global": 2, "n_blocks_global": 2,
                   "ndf": 8, "num_D": 2, "n_layers_D": 2, "no_vgg_loss": True},
         "data": {"dataset": "labels", "root": None,
                  "synthetic": {"layout": "labels", "n": 24, "size": 64, "seed": 0, "classes": 4},
                  "preprocess": "none", "load_size": 64, "crop_size": 64, "batch_size": 2},
         "trainer": {"n_epochs": 20, "n_epochs_decay": 10, "sample_every": 60, "save_every": 120, "log_every": 12,
                     "eval_max_images": 8}},
        "tiny CPU demo on synthetic label maps (360 steps, about 3 minutes on 2 cores); VGG loss off"),
}


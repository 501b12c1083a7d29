"""Peak training memory of the pix2pixHD presets (batch 1), fp32 and bf16, as a markdown table.

Every (preset, precision, size) runs in its own subprocess, so one measurement never
inherits another's allocator caches. A measurement builds the preset's networks and
optimizers and runs two full training iterations (G, D, E and the VGG19 loss when the
preset uses it; an untrained VGG19 stands in when its weights are not on disk, which
costs the same memory):

* CUDA: ``torch.cuda.max_memory_allocated`` at the full training resolution.
* CPU: the process's resident set size, sampled every 2 ms by a thread (and checked
  against ``ru_maxrss``), minus the RSS before the networks were built. The full
  resolution would need tens of GB and hours, so each preset is measured at 1/8 and 1/4
  of the image side and extrapolated linearly in the pixel count
  (``mem = static + per_pixel * pixels``; parameters, gradients and Adam state are the
  static part, activations the per-pixel one).

Usage::

    python benchmarks/pix2pixhd_memory.py            # all presets, CPU or CUDA
    python benchmarks/pix2pixhd_memory.py --presets 512p,1024p --dtypes fp32
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from typing import Any

PRESETS = ["512p", "512p_feat", "1024p", "1024p_12G", "1024p_feat", "2048p"]
# training image size (H, W) of each preset: Cityscapes is 2048x1024
FULL_SIZE = {"512p": (512, 1024), "512p_feat": (512, 1024), "1024p": (1024, 2048), "1024p_12G": (1024, 1024),
             "1024p_feat": (1024, 2048), "2048p": (2048, 4096)}
GIB = 1024**3


# --- worker: one measurement in this process ---------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Sampler(threading.Thread):
    """Polls the RSS until stopped; keeps the maximum."""

    def __init__(self, period: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.period, self.peak, self._halt = period, _rss(), threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(self.period)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return max(self.peak, _rss(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def _batch(h: int, w: int, label_nc: int, device: Any) -> dict:
    import torch

    g = torch.Generator().manual_seed(0)
    coarse = torch.randint(0, label_nc, (1, 1, max(1, h // 32), max(1, w // 32)), generator=g).float()
    label = torch.nn.functional.interpolate(coarse, size=(h, w), mode="nearest")
    inst = label * 1000 + (torch.arange(w).float() // max(1, w // 8))  # several instances per class
    image = torch.rand(1, 3, h, w, generator=g) * 2 - 1
    return {k: v.to(device) for k, v in {"label": label, "inst": inst, "image": image}.items()} | {
        "label_path": ["synthetic"]}


def measure(preset: str, dtype: str, divisor: int, device: str, time_iters: int = 0) -> dict:
    """Build ``preset`` and run two iterations at (full size / divisor); returns bytes and counts."""
    import torch

    from i2i_core import Engine
    from i2i_core.recipe.contract import StepContext
    from i2i_pix2pixhd.losses import VGGLoss, default_vgg_path, vgg19_features

    engine = Engine(warn=False)
    run = engine.resolve_config("pix2pixhd", preset, overrides={
        "trainer": {"init_from": "unused", "device": device, "precision": dtype},
        "model": {"no_vgg_loss": True}})  # the VGG loss is attached below, with or without weights
    uses_vgg = not engine.resolve_config("pix2pixhd", preset, overrides={
        "trainer": {"init_from": "unused"}}).model["no_vgg_loss"]
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    else:
        base = _rss()
    sampler = None if cuda else _Sampler()
    if sampler:
        sampler.start()
    rec = engine.build_recipe(run, device=device)
    if uses_vgg:
        weights = default_vgg_path()
        rec.criterion_vgg = (VGGLoss(weights) if weights.is_file() else VGGLoss(features=vgg19_features())).to(dev)
    h, w = (s // divisor for s in FULL_SIZE[preset])
    batch = _batch(h, w, run.model["label_nc"], dev)
    ctx = StepContext(torch.amp.GradScaler(dev.type, enabled=False))
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16) if dtype == "bf16" else torch.autocast(
        dev.type, enabled=False)
    for _ in range(2):  # the second iteration also holds Adam's state
        with autocast:
            rec.training_step(batch, ctx)
    if cuda:
        torch.cuda.synchronize(dev)
        peak = torch.cuda.max_memory_allocated(dev) - base
    else:
        peak = sampler.stop() - base
    counts = {name: sum(p.numel() for p in net.parameters()) for name, net in rec.nets.items()}
    out = {"peak": peak, "pixels": h * w, "size": [h, w], "params": counts}
    if time_iters:  # images/s after the measured iterations (batch 1; synchronised at both ends)
        if cuda:
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        for _ in range(time_iters):
            with autocast:
                rec.training_step(batch, ctx)
        if cuda:
            torch.cuda.synchronize(dev)
        out["images_per_s"] = time_iters / (time.perf_counter() - t0)
    return out


# --- driver ------------------------------------------------------------------------------


def _child(preset: str, dtype: str, divisor: int, device: str, time_iters: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--worker", preset, dtype, str(divisor), device, "--time-iters", str(time_iters)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def estimate(preset: str, dtype: str, device: str, divisors: list[int], time_iters: int = 0) -> dict:
    """Full-size peak: measured directly on CUDA, extrapolated from reduced sizes on the CPU."""
    full_pixels = FULL_SIZE[preset][0] * FULL_SIZE[preset][1]
    if device.startswith("cuda"):
        r = _child(preset, dtype, 1, device, time_iters)
        return {**r, "full": r.get("peak"), "how": "cuda max_memory_allocated, full size"}
    points = [_child(preset, dtype, d, device) for d in divisors]
    bad = [p for p in points if "error" in p]
    if bad:
        return {"error": bad[0]["error"]}
    if len(points) == 1:
        p = points[0]
        return {**p, "full": p["peak"] * full_pixels / p["pixels"], "how": "RSS at 1 size, scaled by pixels"}
    (p1, p2) = points[0], points[-1]
    per_pixel = max(0.0, (p2["peak"] - p1["peak"]) / (p2["pixels"] - p1["pixels"]))
    static = max(0.0, p1["peak"] - per_pixel * p1["pixels"])
    sides = ", ".join(f"1/{d}" for d in divisors)
    return {**p2, "full": static + per_pixel * full_pixels, "static": static,
            "how": f"RSS at {sides} side, linear in pixels"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--divisors", default="8,4", help="CPU: image-side divisors measured (e.g. 8,4)")
    parser.add_argument("--time-iters", type=int, default=0,
                        help="CUDA: also time this many iterations at full size (images/s)")
    parser.add_argument("--worker", nargs=4, metavar=("PRESET", "DTYPE", "DIVISOR", "DEVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        preset, dtype, divisor, device = args.worker
        print(json.dumps(measure(preset, dtype, int(divisor), device, args.time_iters)))
        return
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtypes = args.dtypes.split(",")
    divisors = [int(d) for d in args.divisors.split(",")]
    # rows are printed as they finish: a full CPU sweep takes a while
    print(f"Peak training memory, batch 1, device {device} (GiB)\n")
    print("| preset | image (WxH) | parameters | " + " | ".join(f"{d} peak" for d in dtypes) + " | method |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in dtypes) + " | --- |", flush=True)
    for preset in args.presets.split(","):
        cells, params, how = [], "", ""
        for dtype in dtypes:
            r = estimate(preset, dtype, device, divisors, args.time_iters if device.startswith("cuda") else 0)
            if "error" in r:
                cells.append(f"error: {r['error'][:60]}")
                continue
            rate = f" ({r['images_per_s']:.2f} img/s)" if "images_per_s" in r else ""
            cells.append(f"{r['full'] / GIB:.2f}{rate}")
            params = " / ".join(f"{n} {c / 1e6:.1f}M" for n, c in r["params"].items())
            how = r["how"]
        h, w = FULL_SIZE[preset]
        print(f"| {preset} | {w}x{h} | {params} | " + " | ".join(cells) + f" | {how} |", flush=True)

if __name__ == "__main__":
    main()

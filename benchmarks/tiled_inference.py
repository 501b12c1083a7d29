"""Tiled vs one-pass inference: peak memory and max difference at 4096x4096; what tiling changes per norm.

Usage::

    python benchmarks/tiled_inference.py memory [--size 4096] [--tile 1024] [--overlap 192] [--ngf 16]
    python benchmarks/tiled_inference.py norms [--size 512] [--tile 320] [--overlap 192]

``memory`` runs a ResNet-6 generator (eval mode, BatchNorm with running statistics) on one
``size`` x ``size`` input twice, each in a fresh process: one pass, then tiled. It prints the
peak resident memory each process added on top of the model and the input (peak RSS, VmHWM,
minus the RSS before the forward pass), and the max abs difference of the two outputs. On
CUDA the figure is ``torch.cuda.max_memory_allocated``.

``norms`` measures, for each normalisation a generator may use at test time, how far tiled
output is from one pass (PSNR in dB on [-1, 1] images, max abs diff) with whole-image
statistics (``global``, the default) and with each tile's own (``tile``).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _memory import peak_rss_bytes, rss_bytes


def _generator(ngf: int, norm: str, blocks: str = "resnet_6blocks") -> torch.nn.Module:
    from i2i_core import Engine

    torch.manual_seed(0)
    net = Engine(warn=False).registries.architectures.build(blocks, input_nc=3, output_nc=3, ngf=ngf, norm=norm,
                                                            use_dropout=False)
    with torch.no_grad():  # non-trivial running statistics, as a trained network has
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 1.5)
                m.running_mean.normal_(0, 0.1)
    return net


def _input(size: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    # smooth content plus noise: a photo-like input rather than white noise
    low = torch.rand(1, 3, 16, 16, generator=g) * 2 - 1
    x = torch.nn.functional.interpolate(low, size=(size, size), mode="bicubic", align_corners=False)
    return (x + 0.1 * torch.randn(1, 3, size, size, generator=g)).clamp(-1, 1)


def child(args: argparse.Namespace) -> None:
    """One measurement in this process: prints a JSON line."""
    from i2i_core.inference.tiling import ShapedGenerator

    device = torch.device(args.device)
    net = _generator(args.ngf, "batch").eval().to(device)
    x = _input(args.size).to(device)
    wrapper = ShapedGenerator(net, tile=args.tile if args.mode == "tiled" else None, overlap=args.overlap)
    before = rss_bytes()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    start = time.perf_counter()
    with torch.no_grad():
        out = wrapper(x)
    seconds = time.perf_counter() - start
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = peak_rss_bytes() - before
    torch.save(out.cpu(), args.save)
    print(json.dumps({"mode": args.mode, "peak_bytes": peak, "seconds": seconds}))


def memory(args: argparse.Namespace) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("one-pass", "tiled"):
            out = Path(tmp) / f"{mode}.pt"
            cmd = [sys.executable, __file__, "child", "--mode", mode, "--size", str(args.size), "--tile",
                   str(args.tile), "--overlap", str(args.overlap), "--ngf", str(args.ngf), "--device", args.device,
                   "--save", str(out)]
            line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            results[mode] = json.loads(line)
            results[mode]["out"] = out
            print(f"{mode:9s} peak +{results[mode]['peak_bytes'] / 2**30:.2f} GiB, {results[mode]['seconds']:.1f} s",
                  flush=True)
        diff = (torch.load(results["one-pass"]["out"]) - torch.load(results["tiled"]["out"])).abs().max().item()
    ratio = results["tiled"]["peak_bytes"] / results["one-pass"]["peak_bytes"]
    print(f"{args.size}x{args.size}, resnet_6blocks ngf={args.ngf} (eval), tile {args.tile} overlap {args.overlap}: "
          f"tiled peak = {ratio:.2f}x one pass; max abs diff {diff:.2e}")


def norms(args: argparse.Namespace) -> None:
    from i2i_core.inference.tiling import ShapedGenerator

    x = _input(args.size)
    cases = [("BatchNorm, eval (running stats)", "batch", False), ("BatchNorm, train mode (test.py default)", "batch", True),
             ("InstanceNorm", "instance", False)]
    print("| norm at test time | stats | max abs diff | PSNR vs one pass |")
    print("|---|---|---|---|")
    for label, norm, train in cases:
        net = _generator(args.ngf, norm).train(train)
        with torch.no_grad():
            saved = [b.clone() for b in net.buffers()]
            one = ShapedGenerator(net)(x)
            for b, old in zip(net.buffers(), saved, strict=True):
                b.copy_(old)
            for stats in ("global", "tile"):
                tiled = ShapedGenerator(net, tile=args.tile, overlap=args.overlap, norm_stats=stats)(x)
                mse = (one - tiled).pow(2).mean().item()
                psnr = math.inf if mse == 0 else 10 * math.log10(4 / mse)
                shown = "inf" if math.isinf(psnr) else f"{psnr:.1f} dB"
                print(f"| {label} | {stats} | {(one - tiled).abs().max().item():.1e} | {shown} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["memory", "norms", "child"])
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--tile", type=int, default=None)
    parser.add_argument("--overlap", type=int, default=None)
    parser.add_argument("--ngf", type=int, default=16)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--mode", default="one-pass")
    parser.add_argument("--save", default="")
    args = parser.parse_args()
    defaults = {"memory": (4096, 1024, 192), "norms": (512, 320, 192), "child": (4096, 1024, 192)}[args.what]
    args.size = args.size or defaults[0]
    args.tile = args.tile or defaults[1]
    args.overlap = args.overlap if args.overlap is not None else defaults[2]
    {"memory": memory, "norms": norms, "child": child}[args.what](args)


if __name__ == "__main__":
    main()

"""``i2i translate`` throughput: batched with prefetching threads vs the naive one-by-one loop.

Usage::

    python benchmarks/translate_throughput.py [--n 48] [--size 128] [--ngf 32] [--batch-size 8] [--workers 2]

Builds a ResNet-6 pix2pix generator (eval mode) with random weights, writes ``--n`` PNGs of
``--size`` x ``--size``, and times, in the same process:

* ``one-by-one``: for each file decode (PIL), normalise, translate a batch of one, encode and
  write a PNG, sequentially: what a hand-written loop (and i2i before batching) does;
* ``Translator.folder``: equal-size inputs batched (``--batch-size``), decoding ``--workers``
  threads ahead, PNGs written at the input's depth.

Prints images/s of both and the ratio (median of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--ngf", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from i2i_core import Engine, Translator
    from i2i_core.io import checkpoint as ckpt

    engine = Engine(warn=False)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        overrides = ["model.netG=resnet_6blocks", f"model.ngf={args.ngf}", "model.eval_mode=true",
                     f"data.crop_size={args.size}", f"data.load_size={args.size}"]
        run = engine.resolve_config("pix2pix", overrides=overrides)
        recipe = engine.build_recipe(run, device="cpu", training=False)
        ckpt.save_weights(tmp / "run" / "checkpoints" / "latest.safetensors", recipe.nets, run.model_dump(mode="json"))
        (tmp / "run" / "config.json").write_text(json.dumps(run.model_dump(mode="json")))
        rng = np.random.default_rng(0)
        (tmp / "in").mkdir()
        for i in range(args.n):
            Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)).save(tmp / "in" / f"{i:04d}.png")
        translator = Translator.from_run(tmp / "run", device="cpu", engine=engine)
        G = translator.recipe.nets["G"]

        def naive(out: Path) -> None:
            out.mkdir()
            for f in sorted((tmp / "in").iterdir()):
                x = torch.from_numpy(np.asarray(Image.open(f).convert("RGB"), dtype=np.float32).copy())
                x = x.permute(2, 0, 1).div(255).sub(0.5).div(0.5)[None].contiguous()  # NCHW, as the readers give
                with torch.no_grad():
                    y = G(x)[0]
                arr = ((y.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
                Image.fromarray(arr).save(out / f.name)

        def batched(out: Path) -> None:
            translator.folder(tmp / "in", out, batch_size=args.batch_size, workers=args.workers)

        naive(tmp / "warm0")  # warm-up: first convolutions allocate and pick kernels
        batched(tmp / "warm1")
        rates = {"one-by-one": [], "Translator.folder": []}
        for r in range(args.repeat):
            for name, fn in (("one-by-one", naive), ("Translator.folder", batched)):
                start = time.perf_counter()
                fn(tmp / f"{name}-{r}")
                rates[name].append(args.n / (time.perf_counter() - start))
        a, b = statistics.median(rates["one-by-one"]), statistics.median(rates["Translator.folder"])
        print(f"{args.n} images {args.size}x{args.size}, resnet_6blocks ngf={args.ngf}, torch threads "
              f"{torch.get_num_threads()}, {sys.platform}")
        print(f"one-by-one         {a:.2f} images/s")
        print(f"Translator.folder  {b:.2f} images/s (batch {args.batch_size}, {args.workers} decoding threads): "
              f"{b / a:.2f}x")


if __name__ == "__main__":
    main()

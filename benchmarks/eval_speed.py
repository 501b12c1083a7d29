"""What held-out evaluation costs: seconds for N images per metric set, as ratios to PSNR+SSIM alone.

    python benchmarks/eval_speed.py --images 100 --size 256 [--inception-weights F --lpips-weights F]

The recipe is pix2pix with the ``facades`` preset (unet_256, randomly initialised: the cost does
not depend on the weights), the data N random smooth image pairs in memory, so only the
evaluation is timed. Without weight files, randomly initialised feature networks of the real
layout are written to a temporary folder (same cost as the real ones). The networks are loaded
once before timing; the last row repeats the full set with the targets' Inception features
cached, as the trainer's periodic evaluation does.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from i2i_core import Engine
from i2i_core.evaluation import metrics as M
from i2i_core.evaluation.evaluate import evaluate

SETS = ["psnr,ssim", "psnr,ssim,lpips", "fid,kid,lpips,psnr,ssim"]


def smooth_images(n: int, size: int, seed: int) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    items = []
    for i in range(n):
        low = torch.rand(1, 3, size // 16, size // 16, generator=g) * 2 - 1
        b = torch.nn.functional.interpolate(low, size=(size, size), mode="bicubic").clamp(-1, 1)[0]
        items.append({"A": b.mean(0, keepdim=True).expand(3, -1, -1).clone(), "B": b, "A_path": f"{i}.png"})
    return items


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--inception-weights")
    ap.add_argument("--lpips-weights")
    ap.add_argument("--out", default="eval_speed.jsonl")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="i2i-eval-speed-") as tmp:
        inc = args.inception_weights or M.write_random_weights("inception", Path(tmp) / M.INCEPTION_FILE)
        lp = args.lpips_weights or M.write_random_weights("lpips", Path(tmp) / M.LPIPS_FILE)
        engine = Engine(warn=False)
        run = engine.resolve_config("pix2pix", "facades", overrides={
            "trainer": {"device": "cpu"}, "data": {"load_size": args.size, "crop_size": args.size}})
        recipe = engine.build_recipe(run)
        data = smooth_images(args.images, args.size, 0)
        kw = {"inception_weights": inc, "lpips_weights": lp, "max_images": args.images}
        evaluate(recipe, data[:2], "cpu", metrics=SETS[-1], inception_weights=inc, lpips_weights=lp)  # load nets
        rows, cache = [], {}
        for spec in SETS + ["cached"]:
            names = SETS[-1] if spec == "cached" else spec
            t0 = time.perf_counter()
            scores = evaluate(recipe, data, "cpu", metrics=names, cache=cache if names == SETS[-1] else None, **kw)
            rows.append({"metrics": spec if spec != "cached" else f"{SETS[-1]} (targets cached)",
                         "seconds": time.perf_counter() - t0, "images": int(scores["images"])})
            print(f"{rows[-1]['metrics']}: {rows[-1]['seconds']:.1f} s", flush=True)  # minutes per set on a CPU
    base = rows[0]["seconds"]
    with open(args.out, "a", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({**r, "size": args.size, "threads": args.threads, "torch": torch.__version__}) + "\n")
    print(f"\n{args.images} images of {args.size}x{args.size}, pix2pix facades (unet_256), {args.threads} threads\n")
    print("| metrics | seconds | ms / image | x PSNR+SSIM |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['metrics']} | {r['seconds']:.1f} | {1000 * r['seconds'] / r['images']:.0f} | "
              f"{r['seconds'] / base:.1f} |")


if __name__ == "__main__":
    main()

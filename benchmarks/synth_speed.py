"""Images per second of the synthetic data generator on one CPU thread.

Usage::

    python benchmarks/synth_speed.py [--size 256] [--n 100] [--classes 4]

Prints, per layout, the rate of rendering alone (scene -> label map -> photo, in
memory) and of :func:`i2i_datasets.synthetic.generate` writing PNGs to a temporary
folder (one "image" = one scene rendered in one style: an A|B pair for ``aligned``,
label + instance + photo files for ``labels``, one photo for ``unaligned``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from i2i_datasets import synthetic as syn


def render_rate(size: int, n: int, classes: int) -> float:
    """Scenes rendered (maps + photo) per second, nothing written."""
    look = syn.appearance(0, classes, 0)
    with torch.inference_mode():
        for i in range(5):  # warm-up: first calls allocate and fill caches
            scene = syn.make_scene(i, classes)
            label, _, shade = syn.render_maps(scene, size)
            syn.render_photo(scene, label, shade, look)
        start = time.perf_counter()
        for i in range(n):
            scene = syn.make_scene(1000 + i, classes)
            label, _, shade = syn.render_maps(scene, size)
            syn.render_photo(scene, label, shade, look)
        return n / (time.perf_counter() - start)


def generate_rate(layout: str, size: int, n: int, classes: int) -> float:
    """Images per second of a full ``generate`` run (PNG encoding and writing included)."""
    spec = syn.validate_spec({"layout": layout, "n": n, "n_test": 0, "size": size, "classes": classes})
    with tempfile.TemporaryDirectory() as tmp:
        syn.generate({**spec.model_dump(), "n": 5}, Path(tmp) / "warmup")
        start = time.perf_counter()
        syn.generate(spec, Path(tmp) / "run")
        elapsed = time.perf_counter() - start
    return syn.total_items(spec) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--classes", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"synthetic generator, {args.size}x{args.size}, {args.classes} classes, torch {torch.__version__}, 1 thread")
    print(f"  render only            {render_rate(args.size, args.n, args.classes):7.1f} images/s")
    for layout in syn.LAYOUTS:
        rate = generate_rate(layout, args.size, args.n, args.classes)
        print(f"  generate {layout:<13} {rate:7.1f} images/s (PNG files written)")


if __name__ == "__main__":
    main()

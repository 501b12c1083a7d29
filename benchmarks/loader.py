"""Images/s the DataLoader produces per preset size, next to the images/s the training step consumes.

Usage::

    python benchmarks/loader.py                              # all presets, workers 0,1,2, pin on/off
    python benchmarks/loader.py --presets pix2pix --workers 0,2 --epochs 3 --n 32
    python benchmarks/loader.py --step-jsonl run.jsonl       # step rate from a train_step.py --out file

Data: ``i2i data synth`` sets written once to a cache folder (``--data-dir``), at the sizes the
real data sets have on disk, read by i2i's own readers through ``i2i_core.io.data.make_loader``
exactly as training reads them (same preprocessing: load, resize, random crop, flip, normalise):

* ``pix2pix``: ``--preset facades``: aligned A|B pairs, 256x256 halves, resized to 286, cropped to 256;
* ``cyclegan``: ``--preset horse2zebra``: unaligned 256x256 images, resized to 286, cropped to 256;
* ``pix2pixhd``: ``--preset 512p``: label + instance maps + photo at 1024x512 (synthesised at 1024x1024
  and cut to 1024x512, Cityscapes' aspect), scale_width 1024, so one item is 1024x512.

For each (workers, pin_memory, persistent_workers) the loader is iterated ``--epochs`` times over
``--n`` items; the first epoch (worker start-up included) and the later ones are reported apart.
The step's rate comes from a timed fp32 training step of the same preset (a ``train_step.py``
child, or ``--step-jsonl``: the ``i2i exact`` median of a ``train_step.py --out`` file). The
goal of issue 10 is loader >= 3x step at every preset. The machine may be shared: the load
average is printed with every row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PRESETS = {
    # name: (recipe, preset, synth layout, synth side, train_step workload)
    "pix2pix": ("pix2pix", "facades", "aligned", 256, "pix2pix"),
    "cyclegan": ("cyclegan", "horse2zebra", "unaligned", 256, "cyclegan"),
    "pix2pixhd": ("pix2pixhd", "512p", "labels", 1024, "pix2pixhd"),
}
HERE = Path(__file__).resolve().parent


def make_data(name: str, root: Path, n: int) -> Path:
    """Synthesise the preset's data set once (``i2i data synth``); pix2pixHD files are cut to 2:1."""
    _, _, layout, side, _ = PRESETS[name]
    out = root / f"{name}-{n}"
    if (out / "done").exists():
        return out
    cmd = [sys.executable, "-m", "i2i_core", "data", "synth", "--layout", layout, "--out", str(out),
           "--n", str(n), "--size", str(side), "--seed", "0", "--n-test", "1", "--force"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    if layout == "labels":
        from PIL import Image
        for f in sorted(out.rglob("*.png")):
            with Image.open(f) as im:
                im.load()
                cut = im.crop((0, 0, im.width, im.height // 2))
            cut.save(f)
    (out / "done").write_text("ok\n")
    return out


def build_dataset(name: str, root: Path):
    from i2i_core import Engine

    recipe, preset, *_ = PRESETS[name]
    engine = Engine(warn=False)
    run = engine.resolve_config(recipe, preset, overrides={"data": {"root": str(root)}})
    return engine.registries.datasets.build(run.data.dataset, run.data, "train"), run


def measure_loader(ds, workers: int, pin: bool, persistent: bool, epochs: int) -> dict:
    from i2i_core.io.data import make_loader

    loader, sampler = make_loader(ds, 1, 0, num_workers=workers, pin_memory=pin, persistent_workers=persistent)
    per_epoch = []
    shape = None
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        count = 0
        for batch in loader:
            count += 1
            if shape is None:
                shape = {k: list(v.shape) for k, v in batch.items() if hasattr(v, "shape")}
        per_epoch.append((count, time.perf_counter() - t0))
    first = per_epoch[0][0] / per_epoch[0][1]
    later = [c / t for c, t in per_epoch[1:]]
    del loader  # persistent workers end here
    return {"first_epoch_img_s": round(first, 2), "later_epochs_img_s": round(statistics.median(later), 2) if later else None,
            "epoch_s": [round(t, 3) for _, t in per_epoch], "items": per_epoch[0][0], "shapes": shape}


def step_rate(name: str, args) -> tuple[float | None, str]:
    """Images/s of an fp32 (exact) training step of the preset, batch 1."""
    workload = PRESETS[name][4]
    if args.step_jsonl:
        rows = [json.loads(ln) for ln in Path(args.step_jsonl).read_text().splitlines() if ln.strip()]
        s = [r["median_s"] for r in rows if r.get("kind") == "run" and r.get("side") == "i2i"
             and r.get("workload") == workload and r.get("variant") == "exact" and "median_s" in r]
        if s:
            return 1.0 / statistics.median(s), f"{args.step_jsonl} (i2i exact, {workload})"
    cmd = [sys.executable, str(HERE / "train_step.py"), "--child-i2i", workload, "exact", "--iters",
           str(args.step_iters), "--warmup", "1"] + (["--threads", str(args.threads)] if args.threads else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("@@I2I@@ ")]
    if not lines:
        return None, f"step child failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}"
    rec = json.loads(lines[-1][len("@@I2I@@ "):])
    return 1.0 / rec["median_s"], f"timed here ({workload} exact fp32, median of {rec['timed_iters']})"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--presets", default=",".join(PRESETS))
    p.add_argument("--workers", default="0,1,2", help="num_workers values")
    p.add_argument("--n", type=int, default=24, help="training items synthesised per preset")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "i2i-loader-bench"))
    p.add_argument("--step-jsonl", help="train_step.py --out file to take the step time from")
    p.add_argument("--step-iters", type=int, default=2, help="timed steps when the step is timed here")
    p.add_argument("--no-step", action="store_true", help="only the loader")
    p.add_argument("--threads", type=int, help="torch threads of the timed step")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    import torch

    cores = len(os.sched_getaffinity(0))
    print(f"# loader: torch {torch.__version__}, {cores} cores available, batch 1, {args.n} items x {args.epochs} epochs; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    if not torch.cuda.is_available():
        print("(no CUDA device: pin_memory has nothing to pin into, so only pin_memory=False is measured)\n")
    print("| preset (item size) | workers | pin_memory | persistent | first epoch img/s | later epochs img/s "
          "| step consumes img/s | loader / step | load avg |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    data_root = Path(args.data_dir)
    data_root.mkdir(parents=True, exist_ok=True)
    for name in args.presets.split(","):
        root = make_data(name, data_root, args.n)
        ds, run = build_dataset(name, root)
        rate, how = (None, "not measured") if args.no_step else step_rate(name, args)
        configs = []
        pins = [False, True] if torch.cuda.is_available() else [False]  # pinning needs an accelerator
        for w in (int(x) for x in args.workers.split(",")):
            configs += [(w, pin, False) for pin in pins]
            if w:
                configs.append((w, pins[-1], True))
        for w, pin, persistent in configs:
            r = measure_loader(ds, w, pin, persistent, args.epochs)
            img_s = r["later_epochs_img_s"] or r["first_epoch_img_s"]
            shapes = r["shapes"] or {}
            size = "x".join(str(s) for s in next(iter(v for k, v in shapes.items() if k in ("A", "image")), [])[-2:][::-1])
            ratio = f"{img_s / rate:.1f}x" if rate else "–"
            print(f"| {name} --preset {PRESETS[name][1]} ({size}) | {w} | {pin} | {persistent} | {r['first_epoch_img_s']:.1f} "
                  f"| {_f(r['later_epochs_img_s'])} | {_f(rate, '.3f')} | {ratio} | {os.getloadavg()[0]:.1f} |", flush=True)
            if args.json:
                print(json.dumps({"preset": name, "workers": w, "pin_memory": pin, "persistent_workers": persistent,
                                  **r, "step_img_s": rate, "step_source": how}), flush=True)
        print(f"<!-- {name}: step rate from {how} -->", flush=True)


def _f(x, spec=".1f") -> str:
    return "–" if x is None else format(x, spec)


if __name__ == "__main__":
    main()

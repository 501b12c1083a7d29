"""Does i2i learn on real photographs as well as the reference code does? (colourisation, CPU)

Builds a paired task from the colour photographs scikit-image ships (``skimage.data``: astronaut,
coffee, chelsea, rocket, hubble_deep_field, immunohistochemistry, retina, colorwheel): A is the
photo in grey (3 equal channels), B the photo in colour, as 128x128 crops of the half-resolution
photos in junyanz's aligned layout (A|B side by side). Training crops come from the left 70% of
every photo, held-out crops from the right 30%, so no held-out pixel is ever trained on.

Then, on the same files, with the same thread count, one after another:

* ``reference``: junyanz/pytorch-CycleGAN-and-pix2pix (``--ref-junyanz DIR``), its own options,
  dataset and ``Pix2PixModel`` driven step by step like its ``train.py``, in a child process;
* ``i2i exact``: ``i2i run pix2pix`` with the same options (unet_128, ngf/ndf, batch 1, lr 2e-4,
  BatchNorm, dropout, vanilla GAN, lambda_L1 100);
* ``i2i demo``: the ``demo`` preset's own model and trainer settings (unet num_downs 6, ngf 16,
  instance norm, no dropout, batch 4, lr 1e-3) on the same data; ``--demo-set KEY=VALUE`` changes
  them (``--demo-set model.norm=batch`` is the reference's normalisation at the demo's batch 4);
* ``demo_eval``: the same, translated with BatchNorm's running statistics (``model.eval_mode``; it only
  matters with ``--demo-set model.norm=batch``): a model trained at batch 4 and translated one crop at
  a time with that crop's own batch statistics sees a normalisation it never trained with;
* ``lockstep``: reference and i2i exact with nothing random after the initial weights (file order,
  no flip, no dropout), reporting the largest generator weight difference after ``--steps`` (0 = the
  same arithmetic, step for step, across epochs);
* ``cyclegan`` (``--runs cyclegan``): i2i's CycleGAN (junyanz variant, resnet_6blocks) on unpaired
  halves of the same training crops (grey from one half, colour from the other), scored on the
  same held-out pairs, plus an FID computed with *randomly initialised* Inception weights: a smoke
  figure that the FID path runs on real outputs, not comparable with any published FID.

Every model translates the same held-out crops (generators in training mode, as the
reference's ``test.py`` does without ``--eval``), and the same i2i_core.evaluation.metrics code scores them
against the colour crops, next to the identity baseline (the grey input itself).

    python benchmarks/learning.py --ref-junyanz ../shared/reference-code/junyanz --steps 300 --seeds 0,1,2,3,4

With several ``--seeds`` (training seeds; the crops stay those of ``--data-seed``) every row is trained once
per seed, the table shows mean ± standard deviation, and the reference vs i2i-exact gap is set against
its standard error (Welch's t-test, p < 0.05 is reported as beyond seed noise); so is every demo row against
i2i exact when both saw as many training images (``--demo-steps`` = ``--steps`` / 4).
Without ``--ref-junyanz`` (or when the folder is missing) the reference row is skipped.
Prints a markdown table and writes ``--out`` (JSON lines).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image

EXACT = "i2i exact (reference options)"
PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
          "colorwheel"]


def build_data(root: Path, size: int, n_train: int, n_test: int, seed: int) -> dict:
    """Write ``root/train`` and ``root/test`` A|B PNGs; return what was built."""
    try:
        import skimage.data
    except ImportError:
        raise SystemExit("benchmarks/learning.py needs the photographs scikit-image ships: "
                         "pip install -e '.[bench]' (or pip install scikit-image)") from None

    rng = np.random.default_rng(seed)
    photos = []
    for name in PHOTOS:
        img = Image.fromarray(getattr(skimage.data, name)()[..., :3])
        img = img.resize((img.width // 2, img.height // 2), Image.BICUBIC)  # half resolution: more content per crop
        photos.append((name, np.asarray(img)))
    counts = {"train": 0, "test": 0}
    for split, n in (("train", n_train), ("test", n_test)):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            name, arr = photos[i % len(photos)]
            h, w = arr.shape[:2]
            cut = int(w * 0.7)
            x_lo, x_hi = (0, cut - size) if split == "train" else (cut, w - size)
            if x_hi < x_lo:  # a narrow photo: its held-out strip is narrower than a crop
                x_lo = x_hi = max(0, w - size) if split == "test" else 0
            x = int(rng.integers(x_lo, x_hi + 1))
            y = int(rng.integers(0, h - size + 1))
            colour = arr[y : y + size, x : x + size]
            grey = np.asarray(Image.fromarray(colour).convert("L").convert("RGB"))
            Image.fromarray(np.concatenate([grey, colour], axis=1)).save(folder / f"{name}_{i:04d}.png")
            counts[split] += 1
    return {"photos": PHOTOS, "size": size, **counts}


def held_out(root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, B) of every held-out file in [-1, 1], (N, 3, S, S) each."""
    a, b = [], []
    for path in sorted((root / "test").glob("*.png")):
        x = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float() / 127.5 - 1
        w = x.shape[-1] // 2
        a.append(x[..., :w])
        b.append(x[..., w:])
    return torch.stack(a), torch.stack(b)


def score(pred: torch.Tensor, target: torch.Tensor) -> dict:
    from i2i_core.evaluation.metrics import psnr, ssim

    return {"psnr": float(psnr(pred, target).mean()), "ssim": float(ssim(pred, target).mean())}


# --- the reference, in a child process ---------------------------------------------------


def reference_child(args: argparse.Namespace) -> None:
    """Train junyanz pix2pix on ``--data`` for ``--steps`` steps and save its held-out translations."""
    torch.set_num_threads(args.threads)
    ref = str(Path(args.ref_junyanz).resolve())
    sys.path.insert(0, ref)
    for missing in ("visdom", "dominate"):  # display-only imports of the reference; nothing here uses them
        try:
            __import__(missing)
        except ImportError:
            sys.modules[missing] = types.ModuleType(missing)
    from data import create_dataset
    from models import create_model
    from options.train_options import TrainOptions

    argv = ["train.py", "--dataroot", args.data, "--name", "bench", "--model", "pix2pix", "--direction", "AtoB",
            "--gpu_ids", "-1", "--netG", "unet_128", "--ngf", str(args.ngf), "--ndf", str(args.ndf),
            "--load_size", str(args.size), "--crop_size", str(args.size), "--batch_size", "1",
            "--num_threads", "0", "--display_id", "0", "--checkpoints_dir", args.work]
    if args.lockstep:  # nothing random after the initial weights: file order, no flip, no dropout
        argv += ["--serial_batches", "--no_flip", "--no_dropout"]
    saved, sys.argv = sys.argv, argv
    try:
        opt = TrainOptions().gather_options()  # its parse() asks CUDA for a device name; the options are the same
    finally:
        sys.argv = saved
    opt.isTrain, opt.gpu_ids = True, []
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    dataset = create_dataset(opt)
    model = create_model(opt)
    # no model.setup(): in this snapshot it belongs to a fork's CycleGAN; upstream it only prints the
    # networks and makes the LR schedulers, whose factor stays 1 for the first n_epochs (100) epochs
    t0, step = time.perf_counter(), 0
    while step < args.steps:
        for data in dataset:
            model.set_input(data)
            model.optimize_parameters()
            step += 1
            if step % 50 == 0:
                print(f"reference step {step}/{args.steps} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
            if step >= args.steps:
                break
    train_s = time.perf_counter() - t0
    if args.lockstep:
        torch.save({"G": model.netG.state_dict(), "steps": step}, Path(args.work) / "ref_lockstep.pt")
        return
    a, _ = held_out(Path(args.data))
    with torch.no_grad():  # test.py without --eval keeps the generator in training mode
        fakes = torch.cat([model.netG(a[i : i + 1]) for i in range(a.shape[0])])
    torch.save({"fake": fakes, "train_s": train_s, "steps": step}, Path(args.work) / "ref.pt")


def _has_reference(args: argparse.Namespace) -> bool:
    if args.ref_junyanz and (Path(args.ref_junyanz) / "models" / "pix2pix_model.py").is_file():
        return True
    print(f"reference skipped: no junyanz tree at {args.ref_junyanz!r}", file=sys.stderr)
    return False


def _reference_child(args: argparse.Namespace, data: Path, work: Path, *extra: str) -> None:
    cmd = [sys.executable, __file__, "--_child", "--ref-junyanz", args.ref_junyanz, "--data", str(data),
           "--work", str(work), "--steps", str(args.steps), "--seed", str(args.seed), "--threads", str(args.threads),
           "--ngf", str(args.ngf), "--ndf", str(args.ndf), "--size", str(args.size), *extra]
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL)  # its option dump is noise; progress and errors show
    if proc.returncode != 0:
        raise SystemExit(f"reference run failed (exit {proc.returncode}); its traceback is above")


def run_reference(args: argparse.Namespace, data: Path, work: Path) -> dict | None:
    if not _has_reference(args):
        return None
    t0 = time.perf_counter()
    _reference_child(args, data, work)
    out = torch.load(work / "ref.pt", weights_only=True)
    _, b = held_out(data)
    return {"name": "reference (junyanz)", "steps": out["steps"], "train_s": round(out["train_s"], 1),
            "wall_s": round(time.perf_counter() - t0, 1), "images_seen": out["steps"], **score(out["fake"], b)}


# --- i2i ------------------------------------------------------------------------------


def train(recipe_name: str, preset: str | None, overrides: dict, out: Path) -> tuple:
    """``i2i run`` into ``out``, then the trained recipe loaded back as ``translate`` would:
    ``(result, wall seconds of training, recipe)``."""
    from i2i_core import Engine
    from i2i_core.inference.loading import load_run

    t0 = time.perf_counter()
    engine = Engine(warn=False)
    result = engine.run(recipe_name, preset, overrides=overrides, out=str(out), progress=False)
    wall = time.perf_counter() - t0
    _, recipe = load_run(engine, out, device="cpu")
    return result, wall, recipe


def train_and_translate(recipe_name: str, preset: str | None, overrides: dict, out: Path,
                        data: Path) -> tuple:
    """:func:`train`, then the trained run's translations of the held-out inputs:
    ``(result, wall seconds, translations, held-out targets)``."""
    result, wall, recipe = train(recipe_name, preset, overrides, out)
    a, b = held_out(data)
    with torch.no_grad():
        fakes = torch.cat([recipe.translate({"A": a[i : i + 1]}) for i in range(a.shape[0])])
    return result, wall, fakes, b


def _i2i_common(args: argparse.Namespace, data: Path) -> dict:
    return {"data": {"root": str(data), "synthetic": None, "dataset": "aligned", "direction": "AtoB",
                     "load_size": args.size, "crop_size": args.size, "preprocess": "resize_and_crop"},
            "trainer": {"max_steps": args.steps, "device": "cpu", "precision": "fp32", "seed": args.seed,
                        "sample_every": 10**6, "save_every": 10**6, "log_every": 50, "evaluate": False}}


def _exact_overrides(args: argparse.Namespace, data: Path) -> dict:
    """The reference's pix2pix options, sized like the reference row."""
    common = _i2i_common(args, data)
    return {**common, "model": {"netG": "unet_128", "ngf": args.ngf, "ndf": args.ndf},
            "data": {**common["data"], "batch_size": 1}}


def run_i2i(args: argparse.Namespace, data: Path, work: Path, preset: str | None, eval_mode: bool = False) -> dict:
    """``preset`` None: the reference's options; else that preset's own settings (``eval_mode``: translated with
    BatchNorm's running statistics instead of each crop's own, which a model trained at batch > 1 expects)."""
    torch.set_num_threads(args.threads)
    if preset is None:
        overrides = _exact_overrides(args, data)
        name = EXACT
    else:
        from i2i_core.config.schema import deep_merge, parse_set

        common = _i2i_common(args, data)
        overrides = {**common, "trainer": {**common["trainer"], "max_steps": args.demo_steps or args.steps}}
        overrides = deep_merge(overrides, parse_set(args.demo_set))
        name = f"i2i --preset {preset}" + "".join(f" --set {item}" for item in args.demo_set)
        if eval_mode:
            overrides = deep_merge(overrides, {"model": {"eval_mode": True}})
            name += ", translated with running statistics (model.eval_mode)"
    folder = work / ((preset or "exact") + ("-eval" if eval_mode else ""))
    result, wall, fakes, b = train_and_translate("pix2pix", preset, overrides, folder, data)
    batch, steps = result.config.data.batch_size, result.config.trainer.max_steps
    return {"name": name, "steps": steps, "train_s": round(wall, 1), "wall_s": round(wall, 1),
            "images_seen": steps * batch, **score(fakes, b)}


def run_lockstep(args: argparse.Namespace, data: Path, work: Path) -> dict | None:
    """Reference and i2i exact with nothing random after the initial weights (file order, no flip, no dropout):
    the largest difference of any generator weight after ``--steps`` steps (0 = the same arithmetic)."""
    if not _has_reference(args):
        return None
    torch.set_num_threads(args.threads)
    _reference_child(args, data, work, "--lockstep")
    ref = torch.load(work / "ref_lockstep.pt", weights_only=True)
    exact = _exact_overrides(args, data)
    overrides = {**exact, "model": {**exact["model"], "no_dropout": True},
                 "data": {**exact["data"], "serial_batches": True, "no_flip": True}}
    _, _, recipe = train("pix2pix", None, overrides, work / "lockstep")
    ours = recipe.nets["G"].state_dict()
    diff = max(float((ours[k].float() - v.float()).abs().max()) for k, v in ref["G"].items() if v.is_floating_point())
    return {"name": "lockstep: reference vs i2i exact, max |G weight difference|", "steps": ref["steps"],
            "train_s": 0.0, "wall_s": 0.0, "images_seen": ref["steps"], "max_weight_diff": diff}


# --- CycleGAN on the same photos, unpaired ------------------------------------------------


def build_unpaired(data: Path, root: Path) -> dict:
    """``root/{trainA,trainB,testA,testB}`` from the aligned crops: grey halves of the first half of the
    training crops as A, colour halves of the second half as B (no training pair is ever seen)."""
    files = sorted((data / "train").glob("*.png"))
    half = len(files) // 2
    for split, (a_files, b_files) in (("train", (files[:half], files[half:])),
                                      ("test", ((t := sorted((data / "test").glob("*.png"))), t))):
        for side, chosen in (("A", a_files), ("B", b_files)):
            folder = root / f"{split}{side}"
            folder.mkdir(parents=True, exist_ok=True)
            for f in chosen:
                img = Image.open(f).convert("RGB")
                w = img.width // 2
                img.crop((0, 0, w, img.height) if side == "A" else (w, 0, 2 * w, img.height)).save(folder / f.name)
    return {"trainA": half, "trainB": len(files) - half}


def fid_smoke(fake: torch.Tensor, real: torch.Tensor, weights: Path) -> float:
    """FID between two image sets with *randomly initialised* Inception weights: the code path, not a real FID."""
    from i2i_core.evaluation.metrics import fid_from_features, inception_features, to_uint8_rgb

    net = inception_features(weights)
    with torch.no_grad():
        feats = [torch.cat([net(to_uint8_rgb(x[i : i + 4])) for i in range(0, x.shape[0], 4)]) for x in (real, fake)]
    return fid_from_features(feats[0], feats[1])


def run_cyclegan(args: argparse.Namespace, data: Path, work: Path) -> dict:
    from i2i_core.evaluation.metrics import write_random_weights

    root = work / "unpaired"
    built = build_unpaired(data, root)
    overrides = {"data": {"root": str(root), "synthetic": None, "load_size": args.size, "crop_size": args.size,
                          "preprocess": "resize_and_crop", "batch_size": 1},
                 "model": {"variant": "junyanz", "netG": "resnet_6blocks", "ngf": args.ngf, "ndf": args.ndf},
                 "trainer": {"max_steps": args.cyclegan_steps or args.steps, "device": "cpu", "precision": "fp32",
                             "seed": args.seed, "sample_every": 10**6, "save_every": 10**6, "log_every": 50,
                             "evaluate": False}}
    result, wall, fakes, b = train_and_translate("cyclegan", None, overrides, work / "cyclegan", data)
    a, _ = held_out(data)
    weights = write_random_weights("inception", work / "inception_random.pth")
    steps = result.config.trainer.max_steps
    return {"name": f"i2i cyclegan (unpaired halves: {built['trainA']} grey / {built['trainB']} colour)",
            "steps": steps, "train_s": round(wall, 1), "wall_s": round(wall, 1), "images_seen": steps,
            **score(fakes, b), "fid_random_features": round(fid_smoke(fakes, b, weights), 4),
            "identity_fid_random_features": round(fid_smoke(a, b, weights), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref-junyanz", default=os.environ.get("I2I_REF_JUNYANZ"), help="junyanz checkout")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--demo-steps", type=int, help="steps of the demo row (default --steps; its batch is 4, so "
                    "--steps/4 compares at equal images seen and equal cost)")
    ap.add_argument("--size", type=int, default=128, help="crop size (unet_128 needs 128)")
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--ndf", type=int, default=16)
    ap.add_argument("--n-train", type=int, default=240)
    ap.add_argument("--n-test", type=int, default=24)
    ap.add_argument("--seeds", default="0", help="training seeds, comma-separated (each row is trained once per "
                    "seed; the table gives mean and spread, so reference vs i2i can be told apart from seed noise)")
    ap.add_argument("--data-seed", type=int, default=0, help="seed of the crops (fixed across --seeds)")
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)  # the reference child's one seed
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", default="reference,exact,demo",
                    help="which rows: reference, exact, demo, demo_eval (the demo translated with running "
                    "statistics), cyclegan (unpaired halves of the same crops), lockstep (reference vs exact with "
                    "nothing random after the initial weights: max weight difference)")
    ap.add_argument("--demo-set", action="append", default=[], metavar="KEY=VALUE",
                    help="an override of the demo rows, like i2i run --set (repeatable), e.g. model.norm=instance")
    ap.add_argument("--cyclegan-steps", type=int, help="steps of the cyclegan row (default --steps)")
    ap.add_argument("--out", default="learning.jsonl")
    ap.add_argument("--data")
    ap.add_argument("--work")
    ap.add_argument("--summarize", metavar="JSONL", help="print the table of an earlier --out file (all its seeds) "
                    "and exit")
    ap.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--lockstep", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        reference_child(args)
        return
    if args.summarize:
        report(summarize_file(Path(args.summarize)))
        return
    torch.set_num_threads(args.threads)
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"--seeds {args.seeds!r}: expected comma-separated integers, e.g. 0,1,2") from None
    wanted = [r.strip() for r in args.runs.split(",")]
    unknown = sorted(set(wanted) - {"reference", "exact", "demo", "demo_eval", "cyclegan", "lockstep"})
    if unknown or not seeds:
        raise SystemExit(f"--runs {args.runs!r} / --seeds {args.seeds!r}: expected rows among reference, exact, "
                         "demo, demo_eval, cyclegan, lockstep and at least one seed")
    rows = []
    with tempfile.TemporaryDirectory(prefix="i2i-learning-") as tmp:
        data = Path(tmp) / "data"
        built = build_data(data, args.size, args.n_train, args.n_test, args.data_seed)
        a, b = held_out(data)
        rows.append({"name": "identity (grey input)", "steps": 0, "train_s": 0.0, "wall_s": 0.0, "images_seen": 0,
                     "seed": None, **score(a, b)})
        for seed in seeds:
            args.seed = seed
            work = Path(tmp) / f"work-{seed}"
            work.mkdir()
            seed_rows = []
            if "reference" in wanted:
                row = run_reference(args, data, work)
                if row:
                    seed_rows.append(row)
            if "exact" in wanted:
                seed_rows.append(run_i2i(args, data, work, None))
            if "demo" in wanted:
                seed_rows.append(run_i2i(args, data, work, "demo"))
            if "demo_eval" in wanted:
                seed_rows.append(run_i2i(args, data, work, "demo", eval_mode=True))
            if "cyclegan" in wanted:
                seed_rows.append(run_cyclegan(args, data, work))
            if "lockstep" in wanted:
                row = run_lockstep(args, data, work)
                if row:
                    seed_rows.append(row)
            rows += [{**row, "seed": seed} for row in seed_rows]
    meta = {"task": "grey -> colour, skimage.data photos", **built, "steps": args.steps, "threads": args.threads,
            "data_seed": args.data_seed, "torch": torch.__version__}
    with open(args.out, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({**meta, **row}) + "\n")
    print(f"\n{built['train']} training / {built['test']} held-out {args.size}px crops of {len(PHOTOS)} photos, "
          f"{args.threads} threads, seeds {','.join(map(str, seeds))}")
    report(rows)


def summarize_file(path: Path) -> list[dict]:
    """The rows of an ``--out`` file (several invocations append to one file: their seeds pool)."""
    if not path.is_file():
        raise SystemExit(f"--summarize {path}: no such file")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    identity = [r for r in rows if r.get("seed") is None]
    return identity[:1] + [r for r in rows if r.get("seed") is not None]


def report(rows: list[dict]) -> None:
    print()
    print(summary_table([r for r in rows if "max_weight_diff" not in r]))
    for r in rows:
        if "max_weight_diff" in r:
            print(f"\n{r['name']} after {r['steps']} steps (seed {r['seed']}): {r['max_weight_diff']:.3g}")
    verdict = compare(rows, "reference (junyanz)", EXACT)
    if verdict:
        print("\n" + verdict)
    # the demo settings against the reference's options, where both saw as many training images
    seen = {r["images_seen"] for r in rows if r["name"] == EXACT}
    for name in dict.fromkeys(r["name"] for r in rows if r["name"].startswith("i2i --preset demo")):
        if {r["images_seen"] for r in rows if r["name"] == name} == seen and len(seen) == 1:
            verdict = compare(rows, EXACT, name)
            if verdict:
                print("\n" + verdict)


def _mean_sd(values: list[float]) -> tuple[float, float]:
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), (float(t.std()) if len(values) > 1 else float("nan"))


def _spread(values: list[float], digits: int) -> str:
    mean, sd = _mean_sd(values)
    return f"{mean:.{digits}f}" if len(values) == 1 else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def summary_table(rows: list[dict]) -> str:
    """One line per run: mean ± standard deviation over its seeds (a lone seed shows its value)."""
    by_name: dict[str, list[dict]] = {}
    for row in rows:
        by_name.setdefault(row["name"], []).append(row)
    lines = ["| run | seeds | steps | images seen | train time (s) | held-out PSNR (dB) | held-out SSIM | "
             "FID, random features |", "|---|---|---|---|---|---|---|---|"]
    for name, group in by_name.items():
        fid = [r["fid_random_features"] for r in group if r.get("fid_random_features") is not None]
        fid_s = (f"{_spread(fid, 2)} (grey input: {group[0]['identity_fid_random_features']:.2f})" if fid else "")
        seeds = "" if group[0]["seed"] is None else str(len(group))
        lines.append(f"| {name} | {seeds} | {group[0]['steps']} | {group[0]['images_seen']} | "
                     f"{_spread([r['train_s'] for r in group], 1)} | {_spread([r['psnr'] for r in group], 2)} | "
                     f"{_spread([r['ssim'] for r in group], 3)} | {fid_s} |")
    return "\n".join(lines)


def _two_sided_p(t: float, dof: float) -> float | None:
    try:
        from scipy import stats  # scikit-image, which this benchmark needs for its photos, depends on scipy
    except ImportError:
        return None
    return float(2 * stats.t.sf(abs(t), dof))


def compare(rows: list[dict], first: str, second: str) -> str | None:
    """Is the gap between two runs' mean PSNR/SSIM larger than seed noise? (Welch's t-test, p < 0.05)"""
    out = []
    for metric, digits in (("psnr", 2), ("ssim", 3)):
        x = [r[metric] for r in rows if r["name"] == first]
        y = [r[metric] for r in rows if r["name"] == second]
        if len(x) < 2 or len(y) < 2:
            return None
        (mx, sx), (my, sy) = _mean_sd(x), _mean_sd(y)
        vx, vy = sx**2 / len(x), sy**2 / len(y)  # squared standard errors of the two means
        se = (vx + vy) ** 0.5
        if se == 0:  # every seed gave the same value on both sides
            out.append(f"{metric.upper()} {second} - {first}: {my - mx:+.{digits}f}, no spread over seeds")
            continue
        t = (my - mx) / se
        dof = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))  # Welch-Satterthwaite
        p = _two_sided_p(t, dof)
        word = ("within seed noise" if p >= 0.05 else "a difference beyond seed noise") if p is not None else \
            "(scipy missing: no p-value)"
        p_s = f", p = {p:.3f}" if p is not None else ""
        out.append(f"{metric.upper()} {second} - {first}: {my - mx:+.{digits}f} (standard error {se:.{digits}f}, "
                   f"Welch t = {t:+.2f}, {dof:.1f} degrees of freedom{p_s}): {word}")
    return "\n".join(out)


if __name__ == "__main__":
    main()

"""Seconds per training iteration: i2i exact / fast next to the reference implementations.

Usage::

    python benchmarks/train_step.py                          # i2i only: exact vs fast, pix2pix facades
    python benchmarks/train_step.py --workloads all --json   # every workload, JSON lines too
    python benchmarks/train_step.py --quick \\
        --ref-steps ../shared/bench/ref_steps.py --ref-junyanz ../shared/reference-code/junyanz \\
        --ref-pix2pixhd ../shared/reference-code/pix2pixHD --ref-book ../shared/reference-code/book-cyclegan

Workloads (batch 1, synthetic tensors in memory, the references' own shapes):

* ``pix2pix``: ``pix2pix --preset facades`` (unet_256 + basic D, 256x256) vs junyanz ``--model pix2pix``;
* ``cyclegan``: ``cyclegan --preset horse2zebra`` (resnet_9blocks, 256x256) vs junyanz ``--model cycle_gan``;
* ``book_cyclegan``: ``cyclegan --preset book`` (256x256) vs the book's ``Model.train()``;
* ``pix2pixhd``: ``pix2pixhd --preset 512p`` global G, 36 input channels, 256x512, no VGG loss;
* ``pix2pixhd_vgg``: the same with the VGG19 loss (weights from ``--vgg-weights FILE`` on the i2i
  side, random otherwise; the reference side always uses a randomly initialised VGG19: same cost).

Every measurement is its own child process (per-process peak RSS; no allocator or thread-pool
state carried over), run one after the other and *alternating* reference and i2i children per
workload, with the same Python, torch and thread count. The i2i children build the step the
way the trainer does (``Trainer`` with the preset's ``trainer`` section, so ``profile=fast`` goes
through ``profile.choose``/``profile.apply`` exactly as ``i2i run --fast`` does) and time
``recipe.training_step`` under autocast + ``scaler.update()`` without reading the losses.
The reference children are ``../shared/bench/ref_steps.py`` (``--ref-steps FILE``), which times the
references' own iteration under call-site variants (``fused`` Adam, ``cl_bf16_fused``,
``compile_cl_bf16``); bf16 variants are skipped on a CPU without native bf16 (``avx512_bf16``
/ ``amx_bf16`` absent from /proc/cpuinfo), where they run ~30x slower than fp32.

The machine may be shared: each child records, per iteration, the CPU time used by other
processes (``/proc/stat`` minus its own), and the load average when it started; a row whose
iterations were all disturbed is marked ``contaminated``. Compare ratios within one run only.
Ratios are speed-ups (reference seconds / i2i seconds; > 1 means i2i is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORKLOADS = {
    # name: (recipe, preset, config overrides, input (H, W), ref_steps workload, label)
    "pix2pix": ("pix2pix", "facades", {}, (256, 256), "pix2pix", "pix2pix facades 256²"),
    "cyclegan": ("cyclegan", "horse2zebra", {}, (256, 256), "cyclegan", "CycleGAN horse2zebra 256²"),
    "book_cyclegan": ("cyclegan", "book", {}, (256, 256), "book_cyclegan", "book CycleGAN 256²"),
    "pix2pixhd": ("pix2pixhd", "512p", {"model": {"no_vgg_loss": True}}, (256, 512), "pix2pixhd_novgg",
                  "pix2pixHD 512p global, 256×512, no VGG"),
    "pix2pixhd_vgg": ("pix2pixhd", "512p", {"model": {"no_vgg_loss": False}}, (256, 512), "pix2pixhd",
                      "pix2pixHD 512p global, 256×512, VGG loss"),
}
# i2i variants: trainer overrides (applied through Trainer, so profile=fast is what --fast does)
I2I_VARIANTS = {
    "exact": {"precision": "fp32"},
    "fast": {"profile": "fast"},
    "bf16": {"precision": "bf16"},
    "bf16+cl+fused": {"precision": "bf16", "channels_last": True, "fused_optimizer": True},
}
REF_BEST_VARIANTS = ["fused", "cl_bf16_fused", "compile_cl_bf16"]
RESULT = "@@I2I@@ "


# --- shared helpers ---------------------------------------------------------------------------


def native_bf16_cpu() -> bool:
    """AVX-512 BF16 or AMX advertised in /proc/cpuinfo (without them bf16 convolutions are ~30x slower)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _machine_busy_s() -> float:
    """CPU seconds the whole machine was busy (plus steal) since boot."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]] + [0] * 8
    user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _hwm_mib() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


class Clock:
    """Wall time per iteration plus the CPU time other processes used meanwhile (contamination).

    An iteration is clean when foreign CPU time stays under 0.05 s + 3% of its CPU capacity,
    the criterion ref_steps.py uses, so both sides are judged alike.
    """

    def __init__(self, sync=None) -> None:
        self.sync = sync or (lambda: None)
        self.ncpu = len(os.sched_getaffinity(0))
        self.rows: list[dict] = []
        self._start: tuple | None = None

    def _snap(self) -> tuple:
        self.sync()
        return time.perf_counter(), _own_cpu_s(), _machine_busy_s()

    def start(self) -> None:
        self._start = self._snap()

    def stop(self) -> None:
        a, b = self._start, self._snap()
        wall, own = b[0] - a[0], b[1] - a[1]
        foreign = max(0.0, (b[2] - a[2]) - own)
        self.rows.append({"wall": wall, "cpu": own, "foreign": foreign,
                          "clean": foreign <= 0.05 + 0.03 * wall * self.ncpu})


# --- i2i child ---------------------------------------------------------------------------------


def _i2i_batch(recipe: str, run, size: tuple[int, int], k: int) -> dict:
    import torch

    h, w = size
    g = torch.Generator().manual_seed(1234 + k)
    if recipe == "pix2pixhd":
        def blocky(hi: int, lo_h: int, lo_w: int) -> torch.Tensor:  # piecewise-constant, like real maps
            m = torch.randint(0, hi, (1, 1, lo_h, lo_w), generator=g).float()
            return torch.nn.functional.interpolate(m, size=(h, w), mode="nearest")
        batch = {"label": blocky(max(1, run.model["label_nc"]), h // 16, w // 16),
                 "image": torch.rand(1, 3, h, w, generator=g) * 2 - 1, "label_path": ["bench.png"]}
        if not run.model["no_instance"]:
            batch["inst"] = blocky(30000, h // 8, w // 8)
        return batch
    return {"A": torch.rand(1, 3, h, w, generator=g) * 2 - 1, "B": torch.rand(1, 3, h, w, generator=g) * 2 - 1,
            "A_path": ["a.png"], "B_path": ["b.png"]}


def i2i_child(args: argparse.Namespace) -> dict:
    import torch

    from i2i_core import Engine, StepContext
    from i2i_core.io.data import to_device
    from i2i_core.training.trainer import Trainer

    if args.threads:
        torch.set_num_threads(args.threads)
    loadavg = os.getloadavg()
    recipe_name, preset, overrides, size, _, _ = WORKLOADS[args.workload]
    device = torch.device(args.device)
    total = args.fast_steps or (args.warmup + args.iters)
    trainer_over = {"device": args.device, "max_steps": total, "evaluate": False, **I2I_VARIANTS[args.variant]}
    model_over = dict(overrides.get("model", {}))
    vgg = args.workload == "pix2pixhd_vgg"
    if vgg and args.vgg_weights:
        model_over["vgg_weights"] = args.vgg_weights
    elif vgg:  # attach a randomly initialised VGG19 below (same cost; nothing is downloaded)
        model_over["no_vgg_loss"] = True
    engine = Engine(warn=False)
    t_build = time.perf_counter()
    run = engine.resolve_config(recipe_name, preset, overrides={**overrides, "model": model_over,
                                                                 "trainer": trainer_over})
    rec = engine.build_recipe(run, device=args.device)
    if vgg and not args.vgg_weights:
        from i2i_pix2pixhd.losses import VGGLoss, vgg19_features
        rec.criterion_vgg = VGGLoss(features=vgg19_features()).to(device)
    # the trainer's own set-up: profile choice + apply, nets to device, channels_last, fused kernels, compile
    trainer = Trainer(run.trainer, progress=False)
    trainer.prepare(rec, total)
    cfg, precision = trainer.cfg, trainer.precision
    ctx = StepContext(precision.scaler, autocast=precision.autocast() if precision.dtype else None,
                      skip_nonfinite=cfg.nan_policy == "skip")
    build_s = time.perf_counter() - t_build
    batches = [to_device(_i2i_batch(recipe_name, run, size, k), device, cfg.channels_last) for k in range(4)]
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    clock = Clock(sync=(lambda: torch.cuda.synchronize(device)) if cuda else None)
    last = None
    for i in range(args.warmup + args.iters):
        clock.start()
        ctx.step = i + 1
        with precision.autocast():
            last = rec.training_step(batches[i % len(batches)], ctx)
        precision.scaler.update()  # once per iteration, as Trainer._loop does; losses are not read
        clock.stop()
    flops = conv_flops(rec, batches[0], ctx, precision) if args.flops else None
    finite = all(bool(torch.isfinite(torch.as_tensor(v, dtype=torch.float32)).all())
                 for v in (last or {}).values() if isinstance(v, (torch.Tensor, float, int)))
    return _record(args, clock, "i2i", args.variant, loadavg, build_s, {
        "profile": trainer.profile.summary(), "precision": cfg.precision, "fused_optimizer": cfg.fused_optimizer,
        "channels_last": cfg.channels_last, "compile": cfg.compile, "losses_finite": finite,
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "cuda_max_memory_allocated_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if cuda else None,
        **(flops_share(flops, clock, args) if flops else {}),
        "vgg_weights": (args.vgg_weights or "random init") if vgg else None})


def conv_flops(rec, batch: dict, ctx, precision) -> dict:
    """FLOPs of one more training step, counted by torch's FlopCounterMode: convolutions and all ops."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, precision.autocast():
        rec.training_step(batch, ctx)
    precision.scaler.update()
    ops = counter.get_flop_counts().get("Global", {})
    conv = sum(n for op, n in ops.items() if "convolution" in str(op))
    return {"conv": conv, "total": counter.get_total_flops()}


def flops_share(flops: dict, clock: Clock, args) -> dict:
    """Conv FLOP/s over the whole timed step (a lower bound of the convolutions' own rate) vs the peak."""
    med = statistics.median(r["wall"] for r in clock.rows[args.warmup:])
    conv_tflops = flops["conv"] / med / 1e12
    return {"conv_flops_per_step": flops["conv"], "total_flops_per_step": flops["total"],
            "conv_tflop_s": round(conv_tflops, 2), "peak_tflop_s": args.peak_tflops,
            "conv_share_of_peak": round(conv_tflops / args.peak_tflops, 4)}


def ref_cuda_child(args: argparse.Namespace) -> dict:
    """The reference's own step on CUDA: ref_steps.py's workload builders (imported from ``--ref-steps``,
    not copied), with its CPU shim left out and the networks, losses and inputs moved to the GPU.

    ref_steps.py itself runs the references on the CPU only; this child is what ``gpu_check.sh``
    uses for the reference columns. Variants: ``fp32``, ``bf16`` (autocast), ``cl_bf16_fused``.
    """
    import contextlib
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location("ref_steps", args.ref_steps)
    rs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rs)
    dev = torch.device(args.device)
    loadavg = os.getloadavg()
    rs.shim_cuda_to_cpu = lambda: None  # pix2pixHD's .cuda() calls and torch.cuda.*Tensor go to the GPU
    t_build = time.perf_counter()
    wl = rs.build(WORKLOADS[args.workload][4], args)
    model = wl.model
    if hasattr(model, "device"):
        model.device = dev  # junyanz BaseModel / the book's Model: set_input and labels follow it
    for _, net in wl.nets().items():
        net.to(dev)
    for name in dir(model):  # losses with buffers (junyanz GANLoss labels, pix2pixHD VGG)
        obj = getattr(model, name, None)
        if isinstance(obj, torch.nn.Module):
            obj.to(dev)
            if hasattr(obj, "Tensor"):  # pix2pixHD GANLoss builds its targets with self.Tensor
                obj.Tensor = lambda *size: torch.empty(*size, device=dev)
    for d in getattr(wl, "data", []):
        for k, v in list(d.items()):
            if torch.is_tensor(v):
                d[k] = v.to(dev)
    knobs = set() if args.variant == "fp32" else set(args.variant.split("_"))
    if "cl" in knobs:
        wl.to_channels_last()
    if "fused" in knobs:
        wl.fused = True
        rs.use_fused_adam(wl.optimizers())
    build_s = time.perf_counter() - t_build
    cuda = dev.type == "cuda"  # (cpu: only to check this child's mechanics; ref_steps.py times the CPU)
    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
    sync = (lambda: torch.cuda.synchronize(dev)) if cuda else (lambda: None)
    clock = Clock(sync=sync)

    def ctx():
        if "bf16" in knobs:
            return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=not wl.drives_own_loop)
        return contextlib.nullcontext()

    if wl.drives_own_loop:  # the book's Model.train() owns the loop: time it through ref_steps' Controller
        ctl = rs.Controller(args.warmup, args.iters, args.iters, 1e9, idle_wait=0)
        wl.run_loop(ctl, ctx)
        sync()
        clock.rows = [{"wall": it["wall"], "cpu": it["cpu"], "foreign": it["foreign"], "clean": it["clean"]}
                      for it in ctl.iters()]
    else:
        for _ in range(args.warmup + args.iters):
            clock.start()
            with ctx():
                wl.step()
            clock.stop()
    return _record(args, clock, "ref", args.variant, loadavg, build_s, {
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "cuda_max_memory_allocated_mib": round(torch.cuda.max_memory_allocated(dev) / 2**20, 1) if cuda else None})


def _record(args, clock: Clock, side: str, variant: str, loadavg, build_s: float, extra: dict) -> dict:
    rows = clock.rows
    timed = rows[args.warmup:]
    clean = [r["wall"] for r in timed if r["clean"]]
    use = clean or [r["wall"] for r in timed]
    return {"side": side, "workload": args.workload, "variant": variant, "device": args.device,
            "median_s": round(statistics.median(use), 4), "min_s": round(min(use), 4),
            "times_s": [round(r["wall"], 4) for r in timed], "warmup_s": [round(r["wall"], 3) for r in rows[:args.warmup]],
            "iter_foreign_cpu_s": [round(r["foreign"], 2) for r in rows], "clean_iters": len(clean),
            "timed_iters": len(timed), "contaminated": not clean, "loadavg_at_start": [round(x, 2) for x in loadavg],
            "peak_rss_mib": _hwm_mib(), "build_s": round(build_s, 2), **extra}


# --- driver --------------------------------------------------------------------------------------


def _run_child(cmd: list[str], timeout: int, parse) -> dict:
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout}s", "wall_s": round(time.time() - t0, 1)}
    rec = parse(p.stdout)
    if p.returncode != 0 or rec is None:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {p.returncode}: {tail[:200]}", "wall_s": round(time.time() - t0, 1)}
    rec["wall_s"] = round(time.time() - t0, 1)
    return rec


def _parse_i2i(out: str) -> dict | None:
    lines = [ln for ln in out.splitlines() if ln.startswith(RESULT)]
    return json.loads(lines[-1][len(RESULT):]) if lines else None


def _parse_ref(out: str) -> dict | None:
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        return None
    rec = json.loads(lines[-1])
    if "error" in rec:
        return {"error": rec["error"]}
    return {"side": "ref", "variant": rec["variant"], "median_s": rec["median_s"], "min_s": rec["min_s"],
            "times_s": rec.get("times_s"), "clean_iters": rec.get("iters_timed") if not rec.get("contaminated") else 0,
            "timed_iters": rec.get("iters_run_after_warmup"), "contaminated": rec.get("contaminated"),
            "iter_foreign_cpu_s": rec.get("iter_foreign_cpu_s"), "busy_cpus_at_start": rec.get("busy_cpus_at_start"),
            "peak_rss_mib": rec.get("peak_rss_mib"), "torch_threads": rec.get("torch_threads"),
            "losses_finite": rec.get("losses_finite"), "ref_workload": rec.get("workload")}


def i2i_cmd(args, workload: str, variant: str) -> list[str]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child-i2i", workload, variant, "--device", args.device,
           "--iters", str(args.iters), "--warmup", str(args.warmup)]
    for flag, val in (("--threads", args.threads), ("--vgg-weights", args.vgg_weights),
                      ("--fast-steps", args.fast_steps)):
        if val:
            cmd += [flag, str(val)]
    if args.flops:
        cmd += ["--flops", "--peak-tflops", str(args.peak_tflops)]
    return cmd


def ref_cmd(args, workload: str, variant: str) -> list[str]:
    if args.device != "cpu":  # ref_steps.py is CPU-only: our own child builds its workloads on the GPU
        cmd = [sys.executable, os.path.abspath(__file__), "--child-ref", workload, variant, "--device", args.device,
               "--iters", str(args.iters), "--warmup", str(args.warmup), "--ref-steps", args.ref_steps]
        for flag, val in (("--ref-junyanz", args.ref_junyanz), ("--ref-pix2pixhd", args.ref_pix2pixhd),
                          ("--ref-book", args.ref_book)):
            if val:
                cmd += [flag, os.path.abspath(val)]
        return cmd
    cmd = [sys.executable, args.ref_steps, "--workloads", WORKLOADS[workload][4], "--variants", variant,
           "--iters", str(args.iters), "--warmup", str(args.warmup), "--quiet-wait", "0",
           "--idle-wait", str(args.idle_wait), "--max-timed", str(args.iters), "--timeout", str(args.timeout)]
    for flag, val in (("--ref-junyanz", args.ref_junyanz), ("--ref-pix2pixhd", args.ref_pix2pixhd),
                      ("--ref-book", args.ref_book), ("--threads", args.threads)):
        if val:
            cmd += [flag, os.path.abspath(val) if flag.startswith("--ref") else str(val)]
    return cmd


def has_ref(args, workload: str) -> bool:
    if not args.ref_steps:
        return False
    need = {"pix2pix": args.ref_junyanz, "cyclegan": args.ref_junyanz, "book_cyclegan": args.ref_book,
            "pix2pixhd": args.ref_pix2pixhd, "pix2pixhd_vgg": args.ref_pix2pixhd}[workload]
    return bool(need)


def ref_variants(args) -> tuple[list[str], str | None]:
    wanted = [v for v in args.ref_variants.split(",") if v]
    if args.device == "cpu" and not native_bf16_cpu():
        kept = [v for v in wanted if "bf16" not in v]
        skipped = [v for v in wanted if "bf16" in v]
        if skipped:
            return kept, (f"reference variants {', '.join(skipped)} skipped: this CPU has no native bf16 "
                          f"(no avx512_bf16/amx_bf16 in /proc/cpuinfo), where bf16 runs ~30x slower than fp32")
    return wanted, None


def summarise(workload: str, recs: list[dict]) -> dict:
    def med(side: str, variant: str | None = None) -> list[dict]:
        return [r for r in recs if r.get("side") == side and "error" not in r and (variant is None or r["variant"] == variant)]

    def pick(rows: list[dict]) -> dict | None:
        return min(rows, key=lambda r: r["median_s"]) if rows else None

    def median_of(rows: list[dict]) -> float | None:
        return statistics.median(r["median_s"] for r in rows) if rows else None

    out: dict = {"kind": "summary", "workload": workload, "label": WORKLOADS[workload][5]}
    ref_fp32 = median_of(med("ref", "fp32"))
    ref_by_variant = {v: median_of(med("ref", v)) for v in sorted({r["variant"] for r in med("ref")})}
    best_v = min(ref_by_variant, key=ref_by_variant.get) if ref_by_variant else None
    i2i = {v: median_of(med("i2i", v)) for v in sorted({r["variant"] for r in med("i2i")})}
    out.update({"ref_fp32_s": ref_fp32, "ref_best_s": ref_by_variant.get(best_v), "ref_best_variant": best_v,
                "ref_variants_s": ref_by_variant, "i2i_s": i2i, "exact_s": i2i.get("exact"), "fast_s": i2i.get("fast")})
    rss = {}
    for r in recs:
        if "error" not in r:
            key = f"{r['side']}_{r['variant']}"
            rss[key] = max(rss.get(key, 0), r.get("peak_rss_mib") or 0)
    out["peak_rss_mib"] = rss

    def ratio(a, b):
        return round(a / b, 3) if a and b else None
    out["exact_vs_ref_fp32"] = ratio(ref_fp32, out["exact_s"])
    out["fast_vs_ref_best"] = ratio(out["ref_best_s"], out["fast_s"])
    out["fast_vs_ref_fp32"] = ratio(ref_fp32, out["fast_s"])
    out["contaminated_rows"] = sum(1 for r in recs if r.get("contaminated"))
    out["errors"] = [f"{r.get('side')} {r.get('variant')}: {r['error']}" for r in recs if "error" in r]
    out["conv_share"] = {r["variant"]: (r["conv_tflop_s"], r["conv_share_of_peak"], r["peak_tflop_s"])
                         for r in med("i2i") if "conv_share_of_peak" in r}
    fast = pick(med("i2i", "fast"))
    out["fast_profile"] = fast.get("profile") if fast else None
    return out


def _fmt(x, spec=".2f") -> str:
    return "–" if x is None else format(x, spec)


def print_table(summaries: list[dict]) -> None:
    print("\n| workload | ref fp32 s/it | ref best s/it (variant) | i2i exact s/it | i2i fast s/it | exact vs ref fp32 "
          "| fast vs ref best | fast vs ref fp32 | peak RSS MiB ref fp32 / ref best / exact / fast | disturbed rows |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        rss = s["peak_rss_mib"]
        best = f"{_fmt(s['ref_best_s'])} ({s['ref_best_variant']})" if s["ref_best_variant"] else "–"
        rss_cell = " / ".join(_fmt(rss.get(k), ".0f") for k in
                              ("ref_fp32", f"ref_{s['ref_best_variant']}", "i2i_exact", "i2i_fast"))
        ratio = lambda r: "–" if r is None else f"{r:.2f}x"  # noqa: E731
        print(f"| {s['label']} | {_fmt(s['ref_fp32_s'])} | {best} | {_fmt(s['exact_s'])} | {_fmt(s['fast_s'])} | "
              f"{ratio(s['exact_vs_ref_fp32'])} | {ratio(s['fast_vs_ref_best'])} | {ratio(s['fast_vs_ref_fp32'])} | "
              f"{rss_cell} | {s['contaminated_rows']} |")
    for s in summaries:
        for e in s["errors"]:
            print(f"error in {s['workload']}: {e}")
    shares = [s for s in summaries if s.get("conv_share")]
    if shares:
        print("\n| workload | variant | conv TFLOP/s over the step | share of peak |\n|---|---|---|---|")
        for s in shares:
            for v, (tf, share, peak) in s["conv_share"].items():
                print(f"| {s['label']} | i2i {v} | {tf:.2f} | {100 * share:.1f}% of {peak:.0f} TFLOP/s |")
    fast = next((s["fast_profile"] for s in summaries if s.get("fast_profile")), None)
    if fast:
        print(f"\ni2i fast = {fast}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workloads", nargs="+", default=["pix2pix"], help=f"{', '.join(WORKLOADS)} or all")
    p.add_argument("--recipes", nargs="+", help=argparse.SUPPRESS)  # old name of --workloads
    p.add_argument("--i2i-variants", default="exact,fast", help=f"comma list of {', '.join(I2I_VARIANTS)}")
    p.add_argument("--ref-variants", default=",".join(REF_BEST_VARIANTS),
                   help="ref_steps.py call-site variants besides fp32 (bf16 ones dropped on CPUs without native bf16)")
    p.add_argument("--ref-steps", help="path of ../shared/bench/ref_steps.py (times the references)")
    p.add_argument("--ref-junyanz", help="junyanz/pytorch-CycleGAN-and-pix2pix checkout")
    p.add_argument("--ref-pix2pixhd", help="NVIDIA/pix2pixHD checkout")
    p.add_argument("--ref-book", help="Hands-On GANs Chapter06/cyclegan folder (or the repo root)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (on cuda the references run in this "
                   "script's own child, built with ref_steps.py's workload builders)")
    p.add_argument("--iters", type=int, default=3, help="timed iterations per child")
    p.add_argument("--warmup", type=int, default=1, help="untimed iterations per child")
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds per workload (medians across rounds)")
    p.add_argument("--quick", action="store_true", help="smoke run: pix2pix only, 1 warm-up + 2 timed iterations")
    p.add_argument("--threads", type=int, help="torch threads in every child (default: torch's choice)")
    p.add_argument("--vgg-weights", help="torchvision vgg19 weights for i2i's pix2pixhd_vgg (default: random init)")
    p.add_argument("--fast-steps", type=int, help="run length the fast profile is told (default: the benchmark's; "
                   "5000+ makes it compile, as a long --fast run would)")
    p.add_argument("--flops", action="store_true", help="i2i children: count the step's conv FLOPs "
                   "(FlopCounterMode) and report conv TFLOP/s over the step and its share of --peak-tflops")
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="peak dense bf16 TFLOP/s for --flops (default 989: H100/H200 SXM)")
    p.add_argument("--idle-wait", type=float, default=0, help="ref_steps: wait up to this long for idle after a "
                   "disturbed iteration (default 0: keep runs short)")
    p.add_argument("--timeout", type=int, default=1200, help="per child process, seconds")
    p.add_argument("--json", action="store_true", help="print every child's record and the summaries as JSON lines")
    p.add_argument("--out", help="append JSON lines here")
    p.add_argument("--table", metavar="JSONL", help="print the table of a --out file (also a partial one) and exit")
    p.add_argument("--child-i2i", nargs=2, metavar=("WORKLOAD", "VARIANT"), help=argparse.SUPPRESS)
    p.add_argument("--child-ref", nargs=2, metavar=("WORKLOAD", "VARIANT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child_i2i:
        args.workload, args.variant = args.child_i2i
        sys.stdout.flush()
        rec = i2i_child(args)
        print(RESULT + json.dumps(rec), flush=True)
        return
    if args.child_ref:
        args.workload, args.variant = args.child_ref
        real_stdout, sys.stdout = sys.stdout, sys.stderr  # the reference code prints a lot
        rec = ref_cuda_child(args)
        real_stdout.write(RESULT + json.dumps(rec) + "\n")
        real_stdout.flush()
        return
    if args.table:
        rows = [json.loads(ln) for ln in Path(args.table).read_text().splitlines() if ln.strip()]
        runs = [r for r in rows if r.get("kind") == "run"]
        print_table([summarise(w, [r for r in runs if r["workload"] == w]) for w in WORKLOADS
                     if any(r["workload"] == w for r in runs)])
        return
    if args.quick:
        args.iters, args.warmup = 2, 1
    workloads = args.recipes or args.workloads
    if workloads == ["all"]:
        workloads = list(WORKLOADS)
    for w in workloads:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)} or all")
    if args.device.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            p.error("--device cuda: no CUDA device is visible")
    i2i_vs = [v for v in args.i2i_variants.split(",") if v]
    for v in i2i_vs:
        if v not in I2I_VARIANTS:
            p.error(f"unknown i2i variant {v!r}; choose from {', '.join(I2I_VARIANTS)}")
    refs, skipped_note = ref_variants(args)
    out = open(args.out, "a") if args.out else None

    def emit(rec: dict) -> None:
        line = json.dumps(rec)
        if args.json:
            print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()

    import torch
    print(f"# train_step: torch {torch.__version__}, device {args.device}, threads {args.threads or torch.get_num_threads()}, "
          f"batch 1, {args.warmup} warm-up + {args.iters} timed iterations per child, {args.rounds} round(s); "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    if skipped_note and args.ref_steps:
        print(f"# {skipped_note}", flush=True)
    summaries = []
    for w in workloads:
        recs: list[dict] = []
        with_ref = has_ref(args, w)
        # alternate: ref fp32, i2i exact, ref variant, i2i fast, ... (one child at a time)
        ref_jobs = [("ref", "fp32")] + [("ref", v) for v in refs] if with_ref else []
        i2i_jobs = [("i2i", v) for v in i2i_vs]
        jobs = []
        for k in range(max(len(ref_jobs), len(i2i_jobs))):
            jobs += ref_jobs[k:k + 1] + i2i_jobs[k:k + 1]
        for rnd in range(args.rounds):
            order = jobs if rnd % 2 == 0 else jobs[::-1]
            for side, v in order:
                cmd = i2i_cmd(args, w, v) if side == "i2i" else ref_cmd(args, w, v)
                parse = _parse_i2i if side == "i2i" or args.device != "cpu" else _parse_ref
                rec = _run_child(cmd, args.timeout, parse)
                rec.update({"kind": "run", "side": side, "workload": w, "variant": v, "round": rnd + 1,
                            "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            "loadavg_after": [round(x, 2) for x in os.getloadavg()]})
                emit(rec)
                if not args.json:
                    state = rec.get("error") or f"{rec['median_s']:.3f} s/it" + (" (contaminated)" if rec.get("contaminated") else "")
                    print(f"  {w} {side} {v}: {state}", file=sys.stderr, flush=True)
                recs.append(rec)
        s = summarise(w, recs)
        if skipped_note and with_ref:
            s["note"] = skipped_note
        emit(s)
        summaries.append(s)
    print_table(summaries)


if __name__ == "__main__":
    main()

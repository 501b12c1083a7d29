"""Loading weights: i2i's former hand-written safetensors reader vs the ``safetensors`` package (memory-mapped).

Usage::

    python benchmarks/safetensors_load.py [--mb 400] [--g-share 0.25]

Writes one i2i weights file of about ``--mb`` MB (a generator ``G`` holding ``--g-share`` of it,
a discriminator ``D`` the rest), then loads it in fresh processes three ways: the former reader
(whole file into memory, then a copy per tensor), the package reading every network, and the
package reading only ``G`` (what inference needs); each then copies the tensors into freshly
allocated parameters, as ``load_state_dict`` does (memory-mapped pages are only read then).
Prints wall time and the peak resident memory
each load added (peak RSS, VmHWM, minus the RSS before loading), medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _memory import peak_rss_bytes, rss_bytes

_CODES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def former_reader(path: Path) -> dict[str, torch.Tensor]:
    """The reader i2i shipped before the package (baseline): read every byte, then copy each tensor out."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8: 8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        buf = bytearray(data[8 + n + start: 8 + n + end])
        out[name] = torch.frombuffer(buf, dtype=torch.uint8).view(_CODES[info["dtype"]]).reshape(info["shape"]).clone()
    return out


def child(path: Path, how: str) -> None:
    from i2i_core.io import checkpoint as ckpt

    before = rss_bytes()
    start = time.perf_counter()
    if how == "former":
        tensors = former_reader(path)
    else:
        nets, _, _ = ckpt.load_weights(path, nets=["G"] if how == "package-G" else None)
        tensors = {f"{n}/{k}": t for n, state in nets.items() for k, t in state.items()}
    # into the networks' own parameters, as load_state_dict does: memory-mapped pages are read here
    params = {k: torch.empty_like(t) for k, t in tensors.items()}
    for k, t in tensors.items():
        params[k].copy_(t)
    total = sum(t.numel() for t in params.values())
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes() - before
    print(json.dumps({"how": how, "seconds": seconds, "peak": peak, "elements": total}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=400)
    parser.add_argument("--g-share", type=float, default=0.25)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("PATH", "HOW"))
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1])
        return
    from i2i_core.io import checkpoint as ckpt

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.safetensors"
        per = 1 << 22  # 4M floats = 16 MB per tensor
        count = max(2, round(args.mb * 1e6 / (per * 4)))
        n_g = max(1, round(count * args.g_share))
        nets = {"G" if i < n_g else "D": {} for i in range(count)}
        for i in range(count):
            nets["G" if i < n_g else "D"][f"layer{i}.weight"] = torch.randn(per)
        ckpt.save_weights(path, nets, {"recipe": "benchmark"})
        del nets
        size = path.stat().st_size
        print(f"file: {size / 1e6:.0f} MB ({n_g} of {count} tensors in G)")
        rows = {}
        for how in ("former", "package-all", "package-G"):
            runs = []
            for _ in range(args.repeat):
                out = subprocess.run([sys.executable, __file__, "--child", str(path), how], check=True,
                                     capture_output=True, text=True).stdout.strip().splitlines()[-1]
                runs.append(json.loads(out))
            rows[how] = (statistics.median(r["seconds"] for r in runs), statistics.median(r["peak"] for r in runs))
        base_s, base_m = rows["former"]
        print("| reader | load time | peak memory added | speed-up vs former |")
        print("|---|---|---|---|")
        for how, (s, m) in rows.items():
            print(f"| {how} | {s:.3f} s | +{m / 2**30:.2f} GiB | {base_s / s:.1f}x |")


if __name__ == "__main__":
    main()

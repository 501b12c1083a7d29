"""What a run writes for people: sample grids, the loss log and plot, ``index.html``."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Iterable

import torch
from PIL import Image, ImageDraw

from .checkpoint import atomic_write, atomic_write_text


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) in [-1, 1] -> uint8 (B, 3, H, W); one channel repeated, >3 channels: first 3."""
    x = images.detach().float().cpu()
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    elif x.shape[1] > 3:
        x = x[:, :3]
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def save_png(image: torch.Tensor, path: str | Path) -> Path:
    """Write one (C, H, W) uint8 image as PNG, atomically."""
    arr = image.permute(1, 2, 0).contiguous().numpy()
    pil = Image.fromarray(arr)
    return atomic_write(path, lambda fh: pil.save(fh, format="PNG"))


def save_grid(visuals: dict[str, torch.Tensor], path: str | Path, pad: int = 2) -> Path:
    """One row per batch item, one column per visual (resized to the first's size)."""
    cols = [to_uint8(v) for v in visuals.values()]
    h, w = cols[0].shape[-2:]
    cols = [c if c.shape[-2:] == (h, w) else torch.nn.functional.interpolate(
        c.float(), size=(h, w), mode="nearest").to(torch.uint8) for c in cols]
    n = min(c.shape[0] for c in cols)
    grid = torch.full((3, n * (h + pad) + pad, len(cols) * (w + pad) + pad), 255, dtype=torch.uint8)
    for r in range(n):
        for c, col in enumerate(cols):
            y, x = pad + r * (h + pad), pad + c * (w + pad)
            grid[:, y : y + h, x : x + w] = col[r]
    return save_png(grid, path)


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one JSON record (the loss log is append-only; a torn last line is skipped on read)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    out = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def plot_losses(records: list[dict], path: str | Path, size: tuple[int, int] = (900, 420)) -> Path | None:
    """Draw every loss of the log against the step (each series scaled to its own range)."""
    keys = sorted({k for r in records for k in r if k not in ("step", "epoch", "lr", "time", "it_s")})
    if not records or not keys:
        return None
    w, h = size
    left, right, top, bottom = 60, 190, 20, 40
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    steps = [r["step"] for r in records]
    s0, s1 = min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1
    draw.rectangle([left, top, w - right, h - bottom], outline=(0, 0, 0))
    for i, key in enumerate(keys):
        pts = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        if len(pts) < 2:
            continue
        lo, hi = min(v for _, v in pts), max(v for _, v in pts)
        hi = hi if hi > lo else lo + 1
        xy = [(left + (s - s0) / (s1 - s0) * (w - left - right),
               h - bottom - (v - lo) / (hi - lo) * (h - top - bottom)) for s, v in pts]
        colour = _COLOURS[i % len(_COLOURS)]
        draw.line(xy, fill=colour, width=2)
        draw.text((w - right + 10, top + 16 * i), f"{key} [{lo:.3g}, {hi:.3g}]", fill=colour)
    draw.text((left, h - bottom + 8), f"step {s0}", fill=(0, 0, 0))
    draw.text((w - right - 70, h - bottom + 8), f"step {s1}", fill=(0, 0, 0))
    draw.text((left, 4), "losses (each scaled to its own min..max)", fill=(0, 0, 0))
    return atomic_write(path, lambda fh: img.save(fh, format="PNG"))


def write_index(run_dir: str | Path, title: str, sections: Iterable[tuple[str, list[str]]],
                metrics: dict | None = None) -> Path:
    """Write ``RUN/index.html``: metrics table, loss plot, then image sections (paths relative to RUN)."""
    run_dir = Path(run_dir)
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;margin:2em}img{max-width:100%;image-rendering:pixelated}"
             "td,th{padding:4px 10px;border-bottom:1px solid #ddd}</style>",
             f"<h1>{html.escape(title)}</h1>"]
    if metrics:
        parts.append("<h2>Held-out scores</h2><table><tr><th>metric</th><th>model</th><th>identity baseline</th></tr>")
        for name in ("psnr", "ssim"):
            if name in metrics:
                base = metrics.get(f"baseline_{name}")
                parts.append(f"<tr><td>{name.upper()}</td><td>{metrics[name]:.4f}</td>"
                             f"<td>{'' if base is None else f'{base:.4f}'}</td></tr>")
        parts.append("</table>")
    if (run_dir / "losses.png").is_file():
        parts.append("<h2>Losses</h2><img src='losses.png'>")
    for heading, images in sections:
        if not images:
            continue
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for rel in images:
            parts.append(f"<p>{html.escape(rel)}<br><img src='{html.escape(rel)}'></p>")
    return atomic_write_text(run_dir / "index.html", "\n".join(parts) + "\n")

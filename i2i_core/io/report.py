"""What a run writes for people: labelled sample grids, the loss log and plots, ``metrics.json``, ``index.html``.

The page (:func:`write_index`) is one self-contained HTML file that reads everything else from
the run folder: ``config.json`` (shown collapsible), ``losses.jsonl`` (an inline SVG plot with
axes, one panel per network, smoothed lines over faint raw values), ``metrics.json`` /
``eval.jsonl`` (scores with their identity baselines, the evaluation history), the sample and
held-out grids (columns named, small images scaled up with nearest-neighbour) and links to the
checkpoints.
"""

from __future__ import annotations

import html
import json
import math
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch
from PIL import Image, ImageDraw, ImageFont

from i2i_core.io.checkpoint import atomic_write, atomic_write_text

# --- images ---------------------------------------------------------------------------


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) in [-1, 1] -> uint8 (B, 3, H, W); one channel repeated, >3 channels: first 3."""
    x = images.detach().float().cpu()
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    elif x.shape[1] == 2:
        x = torch.cat([x, x[:, :1]], dim=1)
    elif x.shape[1] > 3:
        x = x[:, :3]
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def save_png(image: torch.Tensor, path: str | Path) -> Path:
    """Write one (C, H, W) uint8 image as PNG, atomically."""
    arr = image.permute(1, 2, 0).contiguous().numpy()
    pil = Image.fromarray(arr)
    return atomic_write(path, lambda fh: pil.save(fh, format="PNG"))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # scalable when Pillow has FreeType
    except TypeError:  # pragma: no cover - Pillow < 10.1
        return ImageFont.load_default()


def save_grid(visuals: Mapping[str, torch.Tensor], path: str | Path, pad: int = 2, labels: bool = True,
              min_width: int = 96) -> Path:
    """One row per batch item, one column per visual, each column headed by its name.

    Columns are resized to the first visual's size; images narrower than ``min_width`` are
    scaled up by an integer factor with nearest-neighbour so pixels stay crisp and the names fit.
    """
    names = list(visuals)
    cols = [to_uint8(v) for v in visuals.values()]
    h, w = cols[0].shape[-2:]
    scale = max(1, math.ceil(min_width / w)) if labels else 1
    h, w = h * scale, w * scale
    cols = [c if c.shape[-2:] == (h, w) else torch.nn.functional.interpolate(
        c.float(), size=(h, w), mode="nearest").to(torch.uint8) for c in cols]
    n = min(c.shape[0] for c in cols)
    head = 18 if labels else 0
    grid = torch.full((3, head + n * (h + pad) + pad, len(cols) * (w + pad) + pad), 255, dtype=torch.uint8)
    for r in range(n):
        for c, col in enumerate(cols):
            y, x = head + pad + r * (h + pad), pad + c * (w + pad)
            grid[:, y : y + h, x : x + w] = col[r]
    if not labels:
        return save_png(grid, path)
    pil = Image.fromarray(grid.permute(1, 2, 0).contiguous().numpy())
    draw, font = ImageDraw.Draw(pil), _font(12)
    for c, name in enumerate(names):
        x0 = pad + c * (w + pad)
        text = name
        while text and draw.textlength(text, font=font) > w - 2:  # a long name is cut, never overlaps
            text = text[:-1]
        tx = x0 + (w - draw.textlength(text, font=font)) / 2
        draw.text((tx, 2), text, fill=(20, 20, 20), font=font)
    return atomic_write(path, lambda fh: pil.save(fh, format="PNG"))


# --- logs -----------------------------------------------------------------------------


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one JSON record (the loss log is append-only; a torn last line is skipped on read)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    """Records of a JSONL file; unreadable lines (a torn last line) are skipped."""
    out: list[dict] = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def metrics_json(metrics: Mapping[str, Any]) -> str:
    """Scores as valid JSON text: NaN/inf and ``None`` scores become ``null``, and ``notes`` says why.

    Notes come from a ``notes`` entry or attribute (:class:`i2i_core.evaluation.evaluate.Scores`); a
    null score without one gets a note of its own. The one serialiser of ``metrics.json``.
    """
    notes = {**(getattr(metrics, "notes", None) or {}), **(metrics.get("notes") or {})}
    clean: dict[str, Any] = {}
    for key, value in metrics.items():
        if key == "notes":
            continue
        finite = not isinstance(value, float) or math.isfinite(value)
        clean[key] = value if finite and value is not None else None
        if clean[key] is None:
            notes.setdefault(key, "no value" if value is None else f"not a finite number ({value})")
    if notes:
        clean["notes"] = notes
    return json.dumps(clean, indent=2)


def write_metrics_json(path: str | Path, metrics: Mapping[str, Any]) -> Path:
    """Write :func:`metrics_json` of ``metrics`` to ``path``, atomically."""
    return atomic_write_text(path, metrics_json(metrics) + "\n")


# --- loss plot ------------------------------------------------------------------------

_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf"]
_NOT_LOSSES = {"step", "epoch", "lr", "time", "it_s"}


def _panel_of(key: str) -> str:
    # discriminator losses are named D, D_A, D_real, D_fake, D_gp ... in every recipe
    return "D" if key == "D" or key.startswith("D_") else "G"


def smooth(values: list[float], weight: float) -> list[float]:
    """Debiased exponential moving average (TensorBoard's smoothing)."""
    out, last, norm = [], 0.0, 0.0
    for v in values:
        last = weight * last + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        out.append(last / norm)
    return out


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(1, n - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks: list[float] = []
    t = start
    while t <= hi + step * 0.5 and len(ticks) < 20:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.2e}"


@dataclass
class _Canvas:
    """Drawing primitives in pixels, rendered to SVG (the page) or PNG (``losses.png``)."""

    width: int
    height: int
    items: list[tuple] = field(default_factory=list)

    def line(self, pts: list[tuple[float, float]], colour: str, width: float = 1.5, opacity: float = 1.0) -> None:
        self.items.append(("line", pts, colour, width, opacity))

    def text(self, x: float, y: float, s: str, colour: str = "#222", anchor: str = "start", size: int = 12) -> None:
        self.items.append(("text", x, y, s, colour, anchor, size))

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: str = "#999") -> None:
        self.items.append(("rect", x0, y0, x1, y1, colour))

    def dot(self, x: float, y: float, colour: str) -> None:
        self.items.append(("dot", x, y, colour))

    def svg(self) -> str:
        out = [f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {self.width} {self.height}' "
               f"width='{self.width}' height='{self.height}' font-family='sans-serif' role='img'>"]
        for it in self.items:
            if it[0] == "line":
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in it[1])
                out.append(f"<polyline fill='none' stroke='{it[2]}' stroke-width='{it[3]}' "
                           f"stroke-opacity='{it[4]}' points='{pts}'/>")
            elif it[0] == "text":
                _, x, y, s, colour, anchor, size = it
                out.append(f"<text x='{x:.1f}' y='{y:.1f}' fill='{colour}' font-size='{size}' "
                           f"text-anchor='{anchor}'>{html.escape(s)}</text>")
            elif it[0] == "rect":
                _, x0, y0, x1, y1, colour = it
                out.append(f"<rect x='{x0}' y='{y0}' width='{x1 - x0}' height='{y1 - y0}' fill='none' "
                           f"stroke='{colour}'/>")
            elif it[0] == "dot":
                out.append(f"<circle cx='{it[1]:.1f}' cy='{it[2]:.1f}' r='3' fill='{it[3]}'/>")
        out.append("</svg>")
        return "".join(out)

    def png(self, path: str | Path) -> Path:
        img = Image.new("RGB", (self.width, self.height), "white")
        draw = ImageDraw.Draw(img, "RGBA")
        for it in self.items:
            if it[0] == "line":
                rgb = tuple(int(it[2][i : i + 2], 16) for i in (1, 3, 5))
                draw.line(it[1], fill=(*rgb, int(255 * it[4])), width=max(1, round(it[3])))
            elif it[0] == "text":
                _, x, y, s, colour, anchor, size = it
                font = _font(size)
                w = draw.textlength(s, font=font)
                x = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
                draw.text((x, y - size), s, fill=colour, font=font)
            elif it[0] == "rect":
                draw.rectangle(it[1:5], outline=it[5])
            elif it[0] == "dot":
                draw.ellipse([it[1] - 3, it[2] - 3, it[1] + 3, it[2] + 3], fill=it[3])
        return atomic_write(path, lambda fh: img.save(fh, format="PNG"))


def loss_figure(records: list[dict], width: int = 960, panel_height: int = 240) -> _Canvas | None:
    """Loss curves against the step: one panel per network (G, D), shared x axis, own y axis.

    Raw logged values are drawn faint; the bold line is their debiased moving average
    (weight grows with the number of points, none below 10 points). A single logged step is
    drawn as dots, so a short run still shows its values.
    """
    keys = sorted({k for r in records for k in r if k not in _NOT_LOSSES and isinstance(r.get(k), (int, float))})
    if not records or not keys:
        return None
    panels = {p: [k for k in keys if _panel_of(k) == p] for p in ("G", "D")}
    panels = {p: ks for p, ks in panels.items() if ks}
    left, right, top, bottom, gap = 64, 170, 26, 34, 16
    height = len(panels) * (panel_height + gap) + 8
    cv = _Canvas(width, height)
    steps = [r["step"] for r in records if "step" in r]
    s0, s1 = (min(steps), max(steps)) if steps else (0, 1)
    if s1 <= s0:
        s0, s1 = s0 - 1, s1 + 1
    x_ticks = [t for t in nice_ticks(s0, s1, 6) if s0 <= t <= s1]
    pw = width - left - right
    for p_idx, (panel, ks) in enumerate(panels.items()):
        y_top = p_idx * (panel_height + gap) + top
        y_bot = y_top + panel_height - top - bottom
        series = {k: [(r["step"], float(r[k])) for r in records if isinstance(r.get(k), (int, float))
                      and math.isfinite(r[k]) and "step" in r] for k in ks}
        values = [v for pts in series.values() for _, v in pts]
        if not values:
            continue
        lo, hi = min(values), max(values)
        y_ticks = nice_ticks(lo, hi, 5)
        lo, hi = min([lo, *y_ticks]), max([hi, *y_ticks])
        if hi <= lo:
            hi = lo + 1

        def X(s: float) -> float:
            return left + (s - s0) / (s1 - s0) * pw

        def Y(v: float, lo: float = lo, hi: float = hi, y_top: float = y_top, y_bot: float = y_bot) -> float:
            return y_bot - (v - lo) / (hi - lo) * (y_bot - y_top)

        title = "G: generator losses" if panel == "G" else "D: discriminator losses"
        cv.text(left, y_top - 8, title, size=13)
        cv.rect(left, y_top, left + pw, y_bot)
        for t in y_ticks:
            cv.line([(left - 4, Y(t)), (left + pw, Y(t))], "#dddddd", 1)
            cv.text(left - 7, Y(t) + 4, _fmt(t), "#444", "end", 11)
        for t in x_ticks:
            cv.line([(X(t), y_bot), (X(t), y_bot + 4)], "#444444", 1)
            cv.text(X(t), y_bot + 17, _fmt(t), "#444", "middle", 11)
        cv.text(left + pw, y_bot + 30, "step", "#444", "end", 11)
        for i, (k, pts) in enumerate(series.items()):
            colour = _COLOURS[(keys.index(k)) % len(_COLOURS)]
            if not pts:
                continue
            xy = [(X(s), Y(v)) for s, v in pts]
            if len(pts) == 1:
                cv.dot(*xy[0], colour)
            else:
                weight = 0.0 if len(pts) < 10 else min(0.95, 1 - 8 / len(pts))
                if weight > 0:
                    cv.line(xy, colour, 1, 0.25)
                sm = smooth([v for _, v in pts], weight)
                cv.line([(X(s), Y(v)) for (s, _), v in zip(pts, sm, strict=True)], colour, 2)
            last = pts[-1][1]
            cv.line([(left + pw + 10, y_top + 12 + 18 * i), (left + pw + 26, y_top + 12 + 18 * i)], colour, 3)
            cv.text(left + pw + 31, y_top + 16 + 18 * i, f"{k} {_fmt(last)}", "#222", "start", 12)
    return cv


def plot_losses(records: list[dict], path: str | Path, size: tuple[int, int] = (960, 240)) -> Path | None:
    """Draw the loss log as ``path`` (PNG): one panel per network, axes, smoothed lines over raw ones."""
    fig = loss_figure(records, width=size[0], panel_height=size[1])
    return fig.png(path) if fig is not None else None


# --- the page -------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#222}
h1{margin-bottom:4px}h2{margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555}.meta b{color:#222}code,pre{background:#f5f5f5;padding:2px 5px;border-radius:3px}
pre{padding:10px;overflow:auto;max-height:480px}
table{border-collapse:collapse}td,th{padding:4px 12px;border-bottom:1px solid #e3e3e3;text-align:right}
th:first-child,td:first-child{text-align:left}.better{color:#1a7f37}.worse{color:#b42318}.note{color:#666;font-size:90%}
img.grid{image-rendering:pixelated;image-rendering:crisp-edges;border:1px solid #eee;max-width:100%}
figure{margin:12px 0}figcaption{color:#555;font-size:90%}
"""
_ARROWS = {"psnr": "↑", "ssim": "↑", "lpips": "↓", "fid": "↓", "kid": "↓"}
_METRIC_ORDER = ("fid", "kid", "lpips", "psnr", "ssim")


def _command_line() -> str:
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    args = sys.argv[1:] if prog in ("i2i", "i2i.exe") else sys.argv
    return " ".join(shlex.quote(a) for a in (["i2i", *args] if prog in ("i2i", "i2i.exe") else ["python", *args]))


def _img(run_dir: Path, rel: str, target_width: int = 720) -> str:
    """``<img>`` whose width scales a small image up by an integer factor (crisp with pixelated)."""
    try:
        with Image.open(run_dir / rel) as im:
            w = im.size[0]
        factor = max(1, min(8, target_width // max(1, w)))
        width = f" width='{w * factor}'"
    except OSError:
        width = ""
    return f"<img class='grid' src='{html.escape(rel)}'{width} alt='{html.escape(rel)}'>"


def _scores_table(metrics: Mapping[str, Any]) -> str:
    rows = []
    directions = sorted({k.rsplit("_", 1)[1] for k in metrics if "_" in k and k.rsplit("_", 1)[0] in _METRIC_ORDER
                         and k.rsplit("_", 1)[1] not in ("std",)})
    for name in _METRIC_ORDER:
        for d in ["", *directions]:
            key = f"{name}_{d}" if d else name
            if key not in metrics:
                continue
            value, base = metrics.get(key), metrics.get(f"baseline_{key}")
            std = metrics.get(f"kid_std_{d}" if d else "kid_std") if name == "kid" else None
            shown = "n/a" if not isinstance(value, (int, float)) or not math.isfinite(value) else f"{value:.4f}"
            if std is not None and isinstance(std, (int, float)) and math.isfinite(std) and shown != "n/a":
                shown += f" ± {std:.4f}"
            cls = ""
            if isinstance(value, (int, float)) and isinstance(base, (int, float)) and math.isfinite(value) \
                    and math.isfinite(base) and value != base:
                up = _ARROWS[name] == "↑"
                cls = "better" if (value > base) == up else "worse"
            base_s = "" if not isinstance(base, (int, float)) or not math.isfinite(base) else f"{base:.4f}"
            label = f"{name.upper()} {_ARROWS[name]}" + (f" ({d})" if d else "")
            rows.append(f"<tr><td>{label}</td><td class='{cls}'>{shown}</td><td>{base_s}</td></tr>")
    if not rows:
        return ""
    n = metrics.get("images")
    head = (f"<p class='meta'>{int(n)} held-out images" if isinstance(n, (int, float)) else "<p class='meta'>") + \
        ("; ↑ higher is better, ↓ lower is better; the identity baseline scores the input itself.</p>")
    notes = metrics.get("notes") or getattr(metrics, "notes", {}) or {}
    note_html = "".join(f"<p class='note'>{html.escape(k)}: {html.escape(str(v))}</p>" for k, v in notes.items())
    return (head + "<table><tr><th>metric</th><th>model</th><th>identity baseline</th></tr>" + "".join(rows)
            + "</table>" + note_html)


def _history_table(records: list[dict], best_step: int | None = None) -> str:
    if not records:
        return ""
    keys = [k for k in _METRIC_ORDER if any(k in r for r in records)]
    head = "".join(f"<th>{k.upper()} {_ARROWS[k]}</th>" for k in keys)
    body = []
    for r in records:
        cells = "".join(f"<td>{r[k]:.4f}</td>" if isinstance(r.get(k), (int, float)) else "<td></td>" for k in keys)
        star = " ★ best" if best_step is not None and r.get("step") == best_step else ""
        body.append(f"<tr><td>{r.get('step', '')}{star}</td>{cells}</tr>")
    return f"<table><tr><th>step</th>{head}</tr>{''.join(body)}</table>"


def _summary(run_dir: Path, config: dict, records: list[dict]) -> str:
    t = config.get("trainer", {}) if config else {}
    d = config.get("data", {}) if config else {}
    parts = []
    if config:
        parts.append(f"recipe <b>{html.escape(str(config.get('recipe')))}</b>"
                     + (f" preset <b>{html.escape(str(config.get('preset')))}</b>" if config.get("preset") else ""))
    last = records[-1] if records else {}
    if last:
        parts.append(f"<b>{last.get('step')}</b> steps, epoch {last.get('epoch', '?')}")
        rate = last.get("it_s")
        if isinstance(last.get("time"), (int, float)):
            parts.append(f"wall time <b>{last['time']:.0f} s</b>")
        elif isinstance(rate, (int, float)) and rate > 0:
            parts.append(f"training time ≈ <b>{last['step'] / rate:.0f} s</b>")
        if isinstance(rate, (int, float)):
            parts.append(f"<b>{rate:.2f}</b> it/s, <b>{rate * int(d.get('batch_size', 1) or 1):.2f}</b> images/s")
    if t:
        parts.append(f"precision {html.escape(str(t.get('precision')))}, device {html.escape(str(t.get('device')))}")
    if d:
        parts.append(f"crop {d.get('crop_size')} px, batch {d.get('batch_size')}")
    return "<p class='meta'>" + " · ".join(parts) + "</p>" if parts else ""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _checkpoint_links(run_dir: Path, best: dict) -> str:
    """Pointer files (``latest.json``, ``best.json`` with its score) and each kept checkpoint's files."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return ""
    items = []
    for p in sorted(folder.iterdir()):
        files = [p] if p.is_file() else sorted(f for f in p.iterdir() if f.is_file())
        for f in files:
            rel = str(f.relative_to(run_dir))
            extra = ""
            if f.name == "best.json" and best:
                extra = f" (step {best.get('step')}, {best.get('metric')} {best.get('score')})"
            elif f.name.endswith(".json"):
                extra = f" (step {_read_json(f).get('step')})"
            items.append(f"<li><a href='{html.escape(rel)}'>{html.escape(rel)}</a>{html.escape(extra)} "
                         f"<span class='note'>{os.path.getsize(f) / 2**20:.2f} MiB</span></li>")
    return "".join(items)


def default_sections(run_dir: str | Path) -> list[tuple[str, list[str]]]:
    """The image sections of a run folder: held-out grids, then the latest training samples (newest first)."""
    run_dir = Path(run_dir)

    def rel(folder: str) -> list[str]:
        return sorted(str(p.relative_to(run_dir)) for p in (run_dir / folder).glob("*.png"))

    return [("Held-out translations", rel("eval")), ("Samples during training", rel("samples")[-5:][::-1])]


def write_index(run_dir: str | Path, title: str, sections: Iterable[tuple[str, list[str]]],
                metrics: Mapping[str, Any] | None = None, *, command: str | None = None) -> Path:
    """Write ``RUN/index.html`` from what the run folder holds.

    Args:
        run_dir: the run folder (image paths in ``sections`` are relative to it).
        title: page title.
        sections: ``(heading, [relative image paths])`` in page order.
        metrics: held-out scores (as from :func:`i2i_core.evaluation.evaluate.evaluate`); default: ``RUN/metrics.json``.
        command: the command line shown; default: the one in ``RUN/command.txt``, else this
            process's (which is then saved there, so a later ``i2i eval`` keeps showing the training command).
    """
    run_dir = Path(run_dir)
    cfg_path, cmd_path = run_dir / "config.json", run_dir / "command.txt"
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        config = {}
    if command is None:
        if cmd_path.is_file():
            command = cmd_path.read_text(encoding="utf-8").strip()
        else:
            command = _command_line()
            atomic_write_text(cmd_path, command + "\n")
    if metrics is None and (run_dir / "metrics.json").is_file():
        try:
            metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            metrics = None
    records = read_jsonl(run_dir / "losses.jsonl")
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style>", f"<h1>{html.escape(title)}</h1>", _summary(run_dir, config, records),
             f"<p class='meta'>command: <code>{html.escape(command)}</code></p>"]
    table = _scores_table(metrics) if metrics else ""
    if table:
        parts.append("<h2>Held-out scores</h2>" + table)
    best = _read_json(run_dir / "checkpoints" / "best.json")
    history = _history_table(read_jsonl(run_dir / "eval.jsonl"), best.get("step"))
    if history:
        parts.append("<h2>Evaluations during training</h2>" + history)
    fig = loss_figure(records)
    if fig is not None:
        n = len(records)
        parts.append(f"<h2>Losses</h2><p class='meta'>{n} logged step{'s' if n != 1 else ''}; bold: moving average, "
                     f"faint: logged values</p>{fig.svg()}")
    for heading, images in sections:
        if not images:
            continue
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for rel in images:
            parts.append(f"<figure>{_img(run_dir, rel)}<figcaption>{html.escape(rel)}</figcaption></figure>")
    links = _checkpoint_links(run_dir, best)
    if links:
        parts.append(f"<h2>Checkpoints</h2><ul>{links}</ul>")
    if config:
        parts.append("<h2>Configuration</h2><details><summary>resolved config (config.json)</summary>"
                     f"<pre>{html.escape(json.dumps(config, indent=2))}</pre></details>")
    return atomic_write_text(run_dir / "index.html", "\n".join(p for p in parts if p) + "\n</html>\n")

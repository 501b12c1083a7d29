"""The results page and its pieces: labelled grids, loss panels with axes, scores, valid metrics.json."""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from i2i_core.io.report import (
    default_sections,
    loss_figure,
    nice_ticks,
    plot_losses,
    save_grid,
    smooth,
    write_index,
    write_metrics_json,
)

ROOT = Path(__file__).resolve().parents[1]


def _records(n: int) -> list[dict]:
    return [{"step": 10 * (i + 1), "epoch": 1, "lr": 2e-4, "it_s": 5.0, "time": 2.0 * (i + 1), "G_GAN": 1.0 + 0.1 * i,
             "G_L1": 40.0 - i, "D_real": 0.6, "D_fake": 0.5 - 0.01 * i} for i in range(n)]


def _run_folder(tmp_path: Path, n_records: int = 30) -> Path:
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "latest.json").write_text('{"step": 300, "dir": "step_0000300"}')
    (run / "checkpoints" / "best.json").write_text('{"step": 200, "dir": "step_0000200", "metric": "psnr", "score": 21}')
    (run / "checkpoints" / "step_0000300").mkdir()
    (run / "checkpoints" / "step_0000300" / "model.safetensors").write_bytes(b"0" * 1024)
    with open(run / "eval.jsonl", "w") as fh:
        fh.write(json.dumps({"step": 100, "psnr": 19.0, "fid": None}) + "\n")
        fh.write(json.dumps({"step": 200, "psnr": 21.0, "fid": None}) + "\n")
    (run / "config.json").write_text(json.dumps({"recipe": "cyclegan", "preset": "demo",
                                                 "trainer": {"precision": "fp32", "device": "cpu"},
                                                 "data": {"batch_size": 2, "crop_size": 32}}))
    for r in _records(n_records):
        with open(run / "losses.jsonl", "a") as fh:
            fh.write(json.dumps(r) + "\n")
    g = torch.Generator().manual_seed(0)
    names = ["real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B"]
    save_grid({k: torch.rand(2, 3, 32, 32, generator=g) * 2 - 1 for k in names}, run / "samples" / "step_0000300.png")
    save_grid({k: torch.rand(2, 3, 32, 32, generator=g) * 2 - 1 for k in names}, run / "eval" / "heldout.png")
    return run


def test_grid_has_a_header_row_and_scales_small_images_crisply(tmp_path):
    img = -torch.ones(2, 1, 8, 8)
    img[:, :, :4] = 1  # top half white: nearest-neighbour keeps a hard edge
    path = save_grid({"input": img, "output": -img}, tmp_path / "g.png")
    grid = torch.from_numpy(__import__("numpy").array(Image.open(path)))
    # 8 px columns scaled by 12 (>= 96 px), two of them, 2 px padding, 18 px header
    assert grid.shape[1] == 2 * 96 + 3 * 2 and grid.shape[0] == 18 + 2 * (96 + 2) + 2
    header = grid[:18, 2 : 2 + 96]
    assert (header < 128).any(), "the column name is drawn in the header"
    column = grid[20 : 20 + 96, 2, 0]
    assert set(column[:48].tolist()) == {255} and set(column[48:].tolist()) == {0}  # no blur at the edge


def test_loss_figure_has_a_panel_per_network_with_axes():
    svg = loss_figure(_records(30)).svg()
    assert "G: generator losses" in svg and "D: discriminator losses" in svg
    assert svg.count("<polyline") >= 4 * 2 and ">step<" in svg  # smoothed + raw line per loss, x-axis label
    assert ">300<" in svg  # a tick at the last step
    fig = loss_figure(_records(1))
    assert fig is not None and "<circle" in fig.svg()  # one logged step is shown as dots, not an empty frame
    assert loss_figure([]) is None


def test_plot_losses_png_and_helpers(tmp_path):
    path = plot_losses(_records(12), tmp_path / "losses.png")
    assert Image.open(path).size == (960, 2 * (240 + 16) + 8)
    assert smooth([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])  # debiased: no ramp from zero
    assert nice_ticks(0.0, 1.0, 5) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_page_names_columns_shows_scores_config_and_checkpoints(tmp_path):
    run = _run_folder(tmp_path)
    metrics = {"psnr": 20.5, "baseline_psnr": 12.0, "fid": float("nan"), "baseline_fid": 50.0, "images": 8.0,
               "notes": {"fid": "needs at least 2 held-out images, got 1"}}
    page = write_index(run, "i2i run: cyclegan", default_sections(run), metrics, command="i2i run cyclegan")
    text = page.read_text()
    assert "PSNR ↑" in text and "class='better'>20.5000" in text and "12.0000" in text
    assert "FID ↓" in text and "n/a" in text and "needs at least 2" in text
    assert "<details>" in text and "&quot;recipe&quot;: &quot;cyclegan&quot;" in text
    assert "checkpoints/latest.json</a> (step 300)" in text and "checkpoints/step_0000300/model.safetensors" in text
    assert "(step 200, psnr 21)" in text and "200 ★ best" in text and "21.0000" in text
    assert "i2i run cyclegan" in text
    assert "eval/heldout.png" in text and "samples/step_0000300.png" in text
    assert "300</b> steps" in text and "wall time <b>60 s</b>" in text and "10.00</b> images/s" in text
    assert "width='" in text and "image-rendering:pixelated" in text
    # with no command given, the first writer's command line is kept for later rewrites
    write_index(run, "t", [], None)
    saved = (run / "command.txt").read_text().strip()
    assert saved and html.escape(saved) in (run / "index.html").read_text()


def test_metrics_json_is_always_valid(tmp_path):
    path = write_metrics_json(tmp_path / "metrics.json", {"psnr": 1.0, "fid": float("nan"), "kid": float("-inf")})
    data = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"))
    assert data["fid"] is None and data["kid"] is None and set(data["notes"]) == {"fid", "kid"}


def test_scores_and_plain_dicts_serialise_alike(tmp_path):
    """One serialiser: ``Scores.to_json`` (``i2i eval`` prints it) and ``metrics.json`` say the same thing."""
    from i2i_core.evaluation.evaluate import Scores

    scores = Scores({"psnr": 20.0, "fid": float("nan"), "images": 4})
    scores.notes["fid"] = "fewer than 2 images"
    path = write_metrics_json(tmp_path / "metrics.json", scores)
    assert json.loads(path.read_text()) == json.loads(scores.to_json()) == {
        "psnr": 20.0, "fid": None, "images": 4, "notes": {"fid": "fewer than 2 images"}}
    plain = json.loads(write_metrics_json(tmp_path / "plain.json", {"fid": None, "notes": {"kid": "why"}}).read_text())
    assert plain == {"fid": None, "notes": {"kid": "why", "fid": "no value"}}


def test_page_in_a_headless_browser(tmp_path):
    script = ROOT / "scripts" / "screenshot_page.py"
    sys.path.insert(0, str(script.parent))
    from screenshot_page import find_browser

    if find_browser() is None:
        pytest.skip("no Chromium here (apt-get install chromium)")
    run = _run_folder(tmp_path)
    write_index(run, "i2i run: cyclegan", default_sections(run), {"psnr": 20.5, "baseline_psnr": 12.0},
                command="i2i run cyclegan")
    out = tmp_path / "page.png"
    res = subprocess.run([sys.executable, str(script), str(run), "--out", str(out), "--height", "1600"],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    shot = Image.open(out).convert("L")
    assert shot.size == (1280, 1600)
    lo, hi = shot.getextrema()
    assert lo < 60 and hi > 200  # something was drawn: text and images on a white page

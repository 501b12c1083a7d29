"""benchmarks/learning.py: its statistics, and the README's learning table against the rows it was made from."""

from __future__ import annotations

import importlib.util
import re
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


@pytest.fixture(scope="module")
def learning():
    spec = importlib.util.spec_from_file_location("learning_benchmark", ROOT / "benchmarks" / "learning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(name: str, psnr: float, ssim: float, seed: int, images: int = 100) -> dict:
    return {"name": name, "psnr": psnr, "ssim": ssim, "seed": seed, "steps": images, "images_seen": images,
            "train_s": 1.0}


def test_welch_statistic_and_degrees_of_freedom_match_a_hand_computation(learning):
    a = [_row("a", v, 0.5, i) for i, v in enumerate([10.0, 11.0, 12.0])]  # mean 11, var 1
    b = [_row("b", v, 0.5, i) for i, v in enumerate([13.0, 15.0, 17.0, 19.0])]  # mean 16, var 20/3
    text = learning.compare(a + b, "a", "b")
    se = (1 / 3 + (20 / 3) / 4) ** 0.5
    dof = (1 / 3 + 5 / 3) ** 2 / ((1 / 3) ** 2 / 2 + (5 / 3) ** 2 / 3)
    psnr_line = text.splitlines()[0]
    assert psnr_line.startswith("PSNR b - a: +5.00")
    assert f"standard error {se:.2f}" in psnr_line
    assert f"Welch t = {5 / se:+.2f}" in psnr_line
    assert f"{dof:.1f} degrees of freedom" in psnr_line
    assert "no spread over seeds" in text.splitlines()[1]  # SSIM 0.5 everywhere


def test_compare_needs_two_seeds_on_each_side(learning):
    rows = [_row("a", 1.0, 0.1, 0), _row("a", 2.0, 0.2, 1), _row("b", 1.0, 0.1, 0)]
    assert learning.compare(rows, "a", "b") is None


def test_report_sets_each_demo_row_against_exact_only_at_equal_images_seen(learning, capsys):
    rows = [_row(learning.EXACT, 18.0 + i / 10, 0.5, i, images=1200) for i in range(3)]
    rows += [_row("i2i --preset demo", 19.0 + i / 10, 0.6, i, images=1200) for i in range(3)]
    rows += [_row("i2i --preset demo --set model.norm=batch", 17.0 + i / 10, 0.6, i, images=300) for i in range(3)]
    learning.report(rows)
    out = capsys.readouterr().out
    assert f"PSNR i2i --preset demo - {learning.EXACT}: +1.00" in out
    assert "model.norm=batch - " not in out  # 300 images against 1200: not compared


@pytest.mark.parametrize("file", ["learning_300.jsonl", "learning_1200.jsonl"])
def test_readme_learning_table_is_what_the_committed_rows_give(learning, file):
    """Every seeded run in the committed results appears in the README with its mean ± sd, and the demo
    preset's own settings do at least as well as the reference's options at as many images seen (#11)."""
    rows = learning.summarize_file(RESULTS / file)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    by_name: dict[str, list[dict]] = {}
    for row in rows:
        if row["seed"] is not None:
            by_name.setdefault(row["name"], []).append(row)
    assert {learning.EXACT, "i2i --preset demo"} <= set(by_name)
    means = {}
    for name, group in by_name.items():
        psnr = [r["psnr"] for r in group]
        ssim = [r["ssim"] for r in group]
        means[name] = statistics.mean(psnr), statistics.mean(ssim)
        expected = (rf"\| {len(group)} \| {group[0]['steps']} \| {group[0]['images_seen']} \| "
                    rf"{statistics.mean(psnr):.2f} ± {statistics.stdev(psnr):.2f} dB \| "
                    rf"{statistics.mean(ssim):.3f} ± {statistics.stdev(ssim):.3f} \|")
        assert re.search(expected, readme), f"{file}: README has no row for {name}: {expected}"
    demo, exact = means["i2i --preset demo"], means[learning.EXACT]
    assert by_name["i2i --preset demo"][0]["images_seen"] == by_name[learning.EXACT][0]["images_seen"]
    assert demo[0] >= exact[0] and demo[1] >= exact[1]

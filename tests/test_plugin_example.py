"""A real third-party plugin: pip-install examples/plugin_example and see it everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                           str(ROOT / "examples" / "plugin_example")], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"pip install of the example plugin failed:\n{proc.stderr[-2000:]}")
    return target


def _i2i(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "I2I_CACHE": str(site.parent / "cache")}
    return subprocess.run([sys.executable, "-c", "from i2i_core.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, cwd=cwd)


def test_installed_plugin_shows_up(site):
    res = _i2i(site, "list-models", "spectral*", "--kind", "architectures", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert rows[0]["name"] == "spectral_patchgan" and rows[0]["plugin"] == "spectral_patchgan"
    res = _i2i(site, "plugins", "--json")
    plugins = {r["name"]: r for r in json.loads(res.stdout)}
    assert plugins["spectral_patchgan"]["dist"] == "i2i-spectral-patchgan"
    assert plugins["spectral_patchgan"]["version"] == "0.1.0"
    assert "register_presets" in plugins["spectral_patchgan"]["hooks"]


def test_installed_preset_runs_two_steps(site, tmp_path):
    res = _i2i(site, "run", "pix2pix", "--preset", "demo-sn", "--out", str(tmp_path / "run"),
               "--set", "trainer.max_steps=2", "--set", "trainer.evaluate=false", "--no-progress",
               cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "run" / "checkpoints" / "latest.json").is_file()
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["model"]["netD"] == "spectral_patchgan" and cfg["model"]["gan_mode"] == "hinge"

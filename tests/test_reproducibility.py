"""Same seed, same command, same numbers: fresh runs repeat bit for bit, also on a busy machine.

Each run is the real command line in a child process, started while :func:`contention` keeps
other processes polling the run folders every 20 ms and spinning a core (the load under which
issue #21 saw a run switch to another trajectory). The exact profile pins what its numbers depend
on (``trainer.threads``, deterministic algorithms, no dynamic OpenMP/MKL pool): docs/runs.md.

CI runs three tiny pix2pix runs and the thread-count record/restore; ``-m slow`` runs more runs of
every recipe (pix2pix, CycleGAN, pix2pixHD).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import torch

from i2i_core.config.schema import TrainerConfig
from i2i_core.io import checkpoint as ckpt
from i2i_core.training import profile as profiles

_TINY = ["--set", "trainer.save_every=2", "--set", "trainer.log_every=1", "--set", "trainer.sample_every=100",
         "--set", "trainer.evaluate=false"]
RECIPES = {
    "pix2pix": ["pix2pix", "--preset", "demo", "--set", "model.num_downs=5", "--set", "model.ngf=8",
                "--set", "model.ndf=8", "--set", "data.load_size=36", "--set", "data.crop_size=32",
                "--set", "data.batch_size=2",
                "--set", 'data.synthetic={"layout": "aligned", "n": 6, "size": 36, "seed": 1, "n_test": 2}', *_TINY],
    "cyclegan": ["cyclegan", "--preset", "demo", "--set", "model.ngf=8", "--set", "model.ndf=8",
                 "--set", "model.netG=resnet_6blocks", "--set", "data.load_size=36", "--set", "data.crop_size=32",
                 "--set", 'data.synthetic={"layout": "unaligned", "n": 6, "size": 36, "seed": 1, "n_test": 2}',
                 *_TINY],
    "pix2pixhd": ["pix2pixhd", "--preset", "demo", "--set", "model.ngf=4", "--set", "model.ndf=4",
                  "--set", "data.load_size=32", "--set", "data.crop_size=32", "--set", "model.n_downsample_global=2",
                  "--set", "model.n_blocks_global=1", "--set", "model.no_vgg_loss=true",
                  "--set", 'data.synthetic={"layout": "labels", "n": 4, "size": 32, "seed": 1, "n_test": 1}',
                  *_TINY],
}

#: polls every run folder under ROOT every 20 ms (what a dashboard or `watch ls` does)
_POLLER = """
import sys, time
from pathlib import Path
root = Path(sys.argv[1])
while True:
    for p in root.glob("*/checkpoints/*.json"):
        try:
            p.read_bytes()
        except OSError:
            pass
    for p in root.glob("*/*.jsonl"):
        try:
            p.read_bytes()
        except OSError:
            pass
    time.sleep(0.02)
"""


@contextlib.contextmanager
def contention(root: Path, pollers: int = 2, busy: int = 1) -> Iterator[None]:
    """Other processes polling ``root``'s run folders and loading the CPU while the block runs."""
    procs = [subprocess.Popen([sys.executable, "-c", _POLLER, str(root)]) for _ in range(pollers)]
    procs += [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _env(**extra: str) -> dict[str, str]:
    # the runs use the machine's default threading (no OMP_NUM_THREADS): what a user's command gets
    env = {k: v for k, v in os.environ.items() if k not in ("I2I_FAULT", "OMP_NUM_THREADS", "OMP_DYNAMIC",
                                                             "MKL_DYNAMIC")}
    env.update({"PYTHONUNBUFFERED": "1"}, **extra)
    return env


def _run(recipe: str, out: Path, steps: int, *extra: str, **env: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "i2i_core", "run", *RECIPES[recipe], "--set", f"trainer.max_steps={steps}",
           "--out", str(out), "--no-progress", *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, env=_env(**env), timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return res


def digest(run_dir: Path) -> str:
    """SHA-256 of the final checkpoint's tensors (names and bytes; the header's run id and time left out)."""
    tensors, _ = ckpt.load_safetensors(ckpt.resolve_checkpoint(run_dir).weights)
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _fresh_runs(tmp_path: Path, recipe: str, n: int, steps: int) -> dict[str, str]:
    with contention(tmp_path):
        for i in range(n):
            _run(recipe, tmp_path / f"r{i}", steps)
    return {f"r{i}": digest(tmp_path / f"r{i}") for i in range(n)}


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]


def test_fresh_runs_under_contention_are_bit_identical(tmp_path):
    digests = _fresh_runs(tmp_path, "pix2pix", 3, 4)
    assert len(set(digests.values())) == 1, digests
    start = [e for e in _events(tmp_path / "r0") if e["event"] == "start"]
    assert start and start[0]["threads"] == profiles.default_threads() and start[0]["deterministic"] is True
    assert start[0]["omp_dynamic"] in (False, None)  # the CLI turned the dynamic pool off before torch loaded


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["pix2pix", "cyclegan", "pix2pixhd"])
def test_many_fresh_runs_under_contention_are_bit_identical(tmp_path, recipe):
    n = int(os.environ.get("I2I_REPRO_RUNS", "8"))
    digests = _fresh_runs(tmp_path, recipe, n, 6)
    assert len(set(digests.values())) == 1, digests


def test_thread_count_is_recorded_and_restored_on_resume(tmp_path):
    out = tmp_path / "run"
    _run("pix2pix", out, 2, "--set", "trainer.threads=1")
    assert json.loads((out / "config.json").read_text())["trainer"]["threads"] == 1
    header = ckpt.load_safetensors(ckpt.resolve_checkpoint(out).weights)[1]
    assert json.loads(header["config"])["trainer"]["threads"] == 1
    # resumed without naming it: the recorded count is restored and the continuation equals an uninterrupted run
    _run("pix2pix", out, 4, "--resume", "auto")
    starts = [e for e in _events(out) if e["event"] == "start"]
    assert [e["threads"] for e in starts] == [1, 1], starts
    straight = tmp_path / "straight"
    _run("pix2pix", straight, 4, "--set", "trainer.threads=1")
    assert digest(out) == digest(straight)
    # another count on resume is applied and said not to be bit-identical, in one line
    res = _run("pix2pix", out, 6, "--resume", "auto", "--set", "trainer.threads=2")
    note = [line for line in res.stdout.splitlines() + res.stderr.splitlines() if "trainer.threads" in line]
    assert len(note) == 1 and "not bit-identical" in note[0], res.stdout + res.stderr


def test_exact_profile_pins_threads_and_determinism():
    cpu = torch.device("cpu")
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        exact = profiles.choose(TrainerConfig(), cpu)
        assert exact.threads == profiles.default_threads() and exact.deterministic and not exact.caveats
        applied = profiles.apply(TrainerConfig(), exact)
        assert applied.threads == exact.threads  # recorded in the run's config
        assert torch.are_deterministic_algorithms_enabled()
        assert profiles.apply(TrainerConfig(threads=1), profiles.choose(TrainerConfig(threads=1), cpu)).threads == 1
        assert torch.get_num_threads() == 1
        fast = profiles.choose(TrainerConfig(profile="fast"), cpu)
        profiles.apply(TrainerConfig(profile="fast"), fast)
        if not before[1]:  # undone: only exact (or trainer.deterministic) sets it
            assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1])
    assert "not bit-identical" in profiles.resume_note("trainer.threads") and not profiles.resume_note("trainer.lr")


def test_dynamic_thread_pool_is_named_as_a_caveat(monkeypatch):
    monkeypatch.setenv("OMP_DYNAMIC", "TRUE")
    caveats = profiles.exact_caveats(TrainerConfig(), torch.device("cpu"))
    assert len(caveats) == 1 and "OMP_DYNAMIC" in caveats[0]
    assert any("CUDA" in c for c in profiles.exact_caveats(TrainerConfig(), torch.device("cuda")))

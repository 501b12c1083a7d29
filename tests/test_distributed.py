"""torchrun on CPU (gloo): shards differ, weights stay identical, 2 ranks x batch 1 = 1 rank x batch 2, two nodes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from i2i_core.data import EpochSampler

HERE = Path(__file__).resolve().parent

SCRIPT = """
import sys, torch, torch.distributed as dist
sys.path.insert(0, {here!r})
from i2i_core import Engine, Trainer
from toy import ToyPlugin, toy_items
engine = Engine([ToyPlugin()], autoload=False, warn=False)
run = engine.resolve_config("toy", overrides={{"trainer": {{"max_steps": 3, "device": "cpu", "seed": 1}},
                                                "data": {{"batch_size": 1}}}})
rec = engine.build_recipe(run)
t = Trainer(run.trainer, {out!r}, engine=engine, run_config=run, progress=False)
t.fit(rec, toy_items(4))
w = rec.nets["G"][0].weight.detach().clone()
gathered = [torch.zeros_like(w) for _ in range(2)]
dist.all_gather(gathered, w)
assert torch.equal(gathered[0], gathered[1]), "ranks diverged"
print("rank", dist.get_rank(), "ok", float(w.sum()))
"""


def test_sampler_shards_cover_the_epoch():
    keys = [EpochSampler(5, seed=0, seeded=False, rank=r, world=2).keys() for r in range(2)]
    assert len(keys[0]) == len(keys[1]) == 3
    assert set(keys[0]) | set(keys[1]) == set(range(5))


def test_two_ranks_stay_in_sync(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(here=str(HERE), out=str(tmp_path / "run")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # --standalone: a free port on every run (a fixed one can still be held by a previous run's socket);
    # the process group is destroyed at exit (i2i_core.distributed), without which gloo aborted rank 1 now and then
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script)], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("ok") == 2
    assert (tmp_path / "run" / "checkpoints" / "latest.json").is_file()  # written once, by rank 0


EQUIV = """
import sys, torch, torch.distributed as dist
sys.path.insert(0, {here!r})
from i2i_core import Engine, Trainer
from toy import ToyPlugin, toy_items
engine = Engine([ToyPlugin()], autoload=False, warn=False)
run = engine.resolve_config("toy", overrides={{"trainer": {{"max_steps": 4, "device": "cpu", "seed": 1,
                                                           "sample_every": 100}},
                                                "model": {{"norm": "instance"}}, "data": {{"batch_size": {batch}}}}})
rec = engine.build_recipe(run)
Trainer(run.trainer, None, engine=engine, run_config=run, progress=False).fit(rec, toy_items(8, size=8))
if not dist.is_initialized() or dist.get_rank() == 0:
    torch.save(rec.nets["G"].state_dict(), {out!r})
"""


def _torchrun(script: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", *args, str(script)], capture_output=True,
                          text=True, env=env, timeout=240)


def test_two_ranks_of_batch_one_equal_one_rank_of_batch_two(tmp_path):
    """Gradients averaged over ranks are the gradient of the global batch (instance norm: no cross-item stats)."""
    for name, batch, ranks in (("one", 2, 1), ("two", 1, 2)):
        script = tmp_path / f"{name}.py"
        script.write_text(EQUIV.format(here=str(HERE), batch=batch, out=str(tmp_path / f"{name}.pt")))
        proc = _torchrun(script, "--standalone", "--nproc_per_node", str(ranks))
        assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = (torch.load(tmp_path / f"{n}.pt", weights_only=True) for n in ("one", "two"))
    for key, value in one.items():
        torch.testing.assert_close(two[key], value, rtol=1e-5, atol=1e-6, msg=key)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_single_process_nodes_rendezvous_on_localhost(tmp_path):
    """Multi-node is torchrun's job: two "nodes" (one process each) meet at a c10d rendezvous on 127.0.0.1."""
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(here=str(HERE), out=str(tmp_path / "run")))
    endpoint = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
                               "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "i2i-test",
                               "--node-rank", str(rank), str(script)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for rank in (0, 1)]
    outs = [node.communicate(timeout=240) for node in nodes]
    for node, (_, err) in zip(nodes, outs, strict=True):
        assert node.returncode == 0, err[-3000:]
    assert "".join(out for out, _ in outs).count("ok") == 2

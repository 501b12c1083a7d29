"""A run does what was asked or stops with one line: divergence, resume honesty, locks, bad paths and data."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from i2i_core import Engine, Trainer
from i2i_core.base.atomic import atomic_write_json, remove_stale_temporaries
from i2i_core.base.errors import DivergenceError, RunLockedError
from i2i_core.cli import _add_plugin_commands, cli
from i2i_core.io import checkpoint as ckpt
from i2i_core.io.runlock import RunLock
from toy import ToyPlugin, toy_items

SETS = ["model.num_downs=5", "model.ngf=4", "model.ndf=4", "data.load_size=36", "data.crop_size=32",
        "data.batch_size=2", 'data.synthetic={"layout": "aligned", "n": 6, "size": 36, "seed": 1, "n_test": 2}',
        "trainer.save_every=2", "trainer.sample_every=100", "trainer.evaluate=false", "trainer.log_every=1"]
TINY = ["run", "pix2pix", "--preset", "demo", "--no-progress", *[a for s in SETS for a in ("--set", s)]]


@pytest.fixture(scope="module")
def invoke():
    engine = Engine(warn=False)
    _add_plugin_commands(engine)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(a) for a in args], obj={"engine": engine})


def _one_line_error(res, *needles: str) -> str:
    assert res.exit_code not in (0, None), res.output
    lines = [line for line in res.output.strip().splitlines() if line.strip() and not line.startswith("step ")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in res.output
    return lines[0]


# --- divergence -----------------------------------------------------------------------------


@pytest.fixture
def toy_engine():
    return Engine([ToyPlugin()], autoload=False, warn=False)


def _toy(engine, tmp_path, steps=10, nan_policy="stop", **model):
    run = engine.resolve_config("toy", overrides={
        "trainer": {"max_steps": steps, "device": "cpu", "seed": 3, "save_every": 2, "log_every": 3,
                    "sample_every": 100, "nan_policy": nan_policy},
        "model": model, "data": {"batch_size": 2}})
    recipe = engine.build_recipe(run)
    trainer = Trainer(run.trainer, tmp_path / "run", engine=engine, run_config=run, progress=False)
    return trainer, recipe


def test_nan_loss_stops_naming_the_loss_and_step_and_keeps_the_last_finite_checkpoint(toy_engine, tmp_path):
    trainer, recipe = _toy(toy_engine, tmp_path, nan_from=5)
    with pytest.raises(DivergenceError, match=r"loss L1 became NaN/inf at step 5 \(noticed at step 6") as err:
        trainer.fit(recipe, toy_items(6))
    assert "step_0000004" in str(err.value) and "\n" not in str(err.value)
    latest = ckpt.read_pointer(tmp_path / "run" / "checkpoints")
    assert latest.step == 4  # the save at step 6 was refused, the finite one kept
    weights, _, _ = ckpt.load_weights(latest.weights)
    assert all(torch.isfinite(t).all() for t in weights["G"].values())
    rows = [json.loads(line) for line in (tmp_path / "run" / "losses.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 6 and rows[-1]["L1"] is None  # valid JSON: null, not NaN


def test_nan_policy_skip_skips_the_bad_steps_and_finishes(toy_engine, tmp_path):
    trainer, recipe = _toy(toy_engine, tmp_path, nan_policy="skip", nan_steps=[3, 4])
    result = trainer.fit(recipe, toy_items(6))
    assert result.step == 10 and trainer._step_ctx.skipped == 2
    assert all(torch.isfinite(p).all() for p in recipe.nets["G"].parameters())
    assert ckpt.read_pointer(tmp_path / "run" / "checkpoints").step == 10


def test_nan_policy_ignore_trains_on_and_logs_null(toy_engine, tmp_path):
    trainer, recipe = _toy(toy_engine, tmp_path, steps=6, nan_policy="ignore", nan_from=2)
    assert trainer.fit(recipe, toy_items(6)).step == 6
    for line in (tmp_path / "run" / "losses.jsonl").read_text().splitlines():
        json.loads(line)  # parses: no bare NaN


@pytest.mark.parametrize("value,needle", [("Infinity", "finite"), ("NaN", "finite"), ("0", "greater than 0"),
                                          ("-1e-4", "greater than 0")])
def test_non_finite_or_non_positive_lr_is_a_config_error(invoke, value, needle):
    _one_line_error(invoke(*TINY, "--set", f"trainer.lr={value}"), "trainer.lr", needle)


def test_a_bad_setting_is_reported_before_the_folder_holding_a_run(invoke, tmp_path):
    """Running the README's demo and then a bad variant into the same folder names the setting, not the folder."""
    out = tmp_path / "run"
    assert invoke(*TINY, "--out", out, "--set", "trainer.max_steps=2").exit_code == 0
    _one_line_error(invoke(*TINY, "--out", out, "--set", "trainer.lr=NaN"), "trainer.lr", "finite")


def test_a_run_refused_before_writing_leaves_no_folder(invoke, tmp_path):
    out = tmp_path / "never"
    res = invoke(*TINY, "--out", out, "--set", "data.synthetic=null", "--set", f"data.root={tmp_path / 'missing'}")
    _one_line_error(res, "missing")
    assert not out.exists()


def test_diverging_cli_run_exits_non_zero_with_one_line(invoke, tmp_path):
    res = invoke(*TINY, "--out", tmp_path / "nan", "--set", "trainer.lr=1e30", "--set", "trainer.max_steps=6")
    line = _one_line_error(res, "became NaN/inf at step")
    assert "no checkpoint was written" in line
    assert ckpt.read_pointer(tmp_path / "nan" / "checkpoints") is None


def test_metrics_json_is_always_valid_json(tmp_path):
    atomic_write_json(tmp_path / "m.json", {"psnr": math.nan, "ssim": math.inf, "images": 2.0})
    assert json.loads((tmp_path / "m.json").read_text()) == {"psnr": None, "ssim": None, "images": 2.0}


# --- resume is honest about the config ---------------------------------------------------------


def test_resume_applies_a_new_learning_rate_to_the_optimizers(invoke, tmp_path):
    out = tmp_path / "lr"
    assert invoke(*TINY, "--out", out, "--set", "trainer.max_steps=2").exit_code == 0
    engine = Engine(warn=False)
    seen = {}

    class Spy:
        from i2i_core import hookimpl

        @hookimpl
        def after_load_checkpoint(self, trainer, checkpoint):
            seen["lr"] = {n: [g["lr"] for g in o.param_groups] for n, o in trainer.recipe.optimizers.items()}

    from i2i_core.assembly.run import run

    args = dict(overrides=[*SETS, "trainer.max_steps=4", "trainer.lr=5e-4"], out=str(out), resume="auto",
                progress=False, callbacks=[Spy()])
    result = run(engine, "pix2pix", "demo", **args)
    assert seen["lr"] == {"G": [5e-4], "D": [5e-4]}
    assert result.config.trainer.lr == 5e-4
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    event = [e for e in events if e["event"] == "resume"][-1]  # each start also logs its thread setup
    assert event["changes"]["trainer.lr"] == [1e-3, 5e-4] and event["step"] == 2


@pytest.mark.parametrize("key,value", [("data.batch_size", "1"), ("trainer.seed", "5")])
def test_resume_refuses_what_it_cannot_apply(invoke, tmp_path, key, value):
    out = tmp_path / "fixed"
    assert invoke(*TINY, "--out", out, "--set", "trainer.max_steps=2").exit_code == 0
    _one_line_error(invoke(*TINY, "--out", out, "--resume", "auto", "--set", f"{key}={value}"),
                    key, "cannot apply")


def test_resume_into_a_new_folder_keeps_the_preset(invoke, tmp_path):
    src, new = tmp_path / "src", tmp_path / "new"
    assert invoke(*TINY, "--out", src, "--set", "trainer.max_steps=2").exit_code == 0
    res = invoke(*TINY, "--resume", src, "--out", new, "--set", "trainer.max_steps=4")
    assert res.exit_code == 0, res.output
    cfg = json.loads((new / "config.json").read_text())
    assert cfg["preset"] == "demo" and cfg["model"]["ngf"] == 4
    assert ckpt.read_pointer(new / "checkpoints").step == 4
    assert ckpt.read_pointer(src / "checkpoints").step == 2  # the source run is left as it was


def test_older_run_folders_still_load_and_a_mismatched_pair_is_refused(invoke, tmp_path):
    out = tmp_path / "old"
    assert invoke(*TINY, "--out", out, "--set", "trainer.max_steps=4").exit_code == 0
    folder = out / "checkpoints"
    step4, step2 = folder / "step_0000004", folder / "step_0000002"
    # the layout of i2i <= 0.1: latest.{safetensors,pt} side by side, no pointer, no run id
    tensors, meta = ckpt.load_safetensors(step4 / "model.safetensors")
    meta.pop("run_id")
    ckpt.save_safetensors(tensors, folder / "latest.safetensors", meta)
    state = torch.load(step4 / "state.pt", weights_only=True)
    state.pop("run_id")
    torch.save(state, folder / "latest.pt")
    for path in (folder / "latest.json", step4, step2):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    res = invoke(*TINY, "--out", out, "--resume", "auto", "--set", "trainer.max_steps=6")
    assert res.exit_code == 0, res.output
    assert ckpt.read_pointer(folder).step == 6

    # weights of step 6 beside a training state of step 4: what a kill between the two writes left
    tensors, meta = ckpt.load_safetensors(folder / "step_0000006" / "model.safetensors")
    meta.pop("run_id")
    ckpt.save_safetensors(tensors, folder / "latest.safetensors", meta)
    (folder / "latest.json").unlink()
    shutil.rmtree(folder / "step_0000006")
    _one_line_error(invoke(*TINY, "--out", out, "--resume", "auto", "--set", "trainer.max_steps=8"),
                    "step 6", "step 4", "do not belong together")


def test_kill_during_first_save_then_resume_auto_starts_over(invoke, tmp_path):
    out = tmp_path / "first"
    (out / "checkpoints" / ".tmp-step_0000002-4242").mkdir(parents=True)
    (out / "checkpoints" / ".tmp-step_0000002-4242" / "model.safetensors").write_bytes(b"half")
    (out / "checkpoints" / "step_0000002").mkdir()  # renamed into place, never published
    (out / "losses.jsonl").write_text('{"step": 1, "L1": 1.0}\n{"step": 2, "L')
    (out / "samples").mkdir()
    (out / "samples" / ".step_0000002.png.abc.tmp").write_bytes(b"")
    res = invoke(*TINY, "--out", out, "--resume", "auto", "--set", "trainer.max_steps=2")
    assert res.exit_code == 0, res.output
    assert not list(out.rglob("*.tmp")) and not list((out / "checkpoints").glob(".tmp-*"))
    steps = [json.loads(line)["step"] for line in (out / "losses.jsonl").read_text().splitlines()]
    assert steps == [1, 2]  # the old log was started over, not appended to
    assert ckpt.read_pointer(out / "checkpoints").step == 2


def test_stale_temporaries_are_found_at_any_depth(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / ".x.png.1.tmp").write_bytes(b"")
    (tmp_path / ".metrics.json.2.tmp").write_bytes(b"")
    (tmp_path / "keep.tmp").write_bytes(b"")  # not one of ours: no leading dot
    removed = remove_stale_temporaries(tmp_path)
    assert len(removed) == 2 and (tmp_path / "keep.tmp").is_file()


# --- one run per folder ----------------------------------------------------------------------------


def test_a_locked_folder_is_refused_naming_the_process(invoke, tmp_path):
    out = tmp_path / "busy"
    with RunLock(out):
        line = _one_line_error(invoke(*TINY, "--out", out, "--set", "trainer.max_steps=1"), f"process {os.getpid()}")
        assert "in use" in line
        with pytest.raises(RunLockedError):
            RunLock(out).acquire()
        res = invoke("import-checkpoint", "--from", "junyanz", "--arch", "unet", __file__, out)
        _one_line_error(res, "in use")
    assert invoke(*TINY, "--out", out, "--set", "trainer.max_steps=1").exit_code == 0  # released


def test_an_import_refused_before_writing_leaves_no_folder(invoke, tmp_path):
    bogus = tmp_path / "bogus.pth"
    bogus.write_bytes(b"not a checkpoint")
    res = invoke("import-checkpoint", "--from", "junyanz", "--arch", "unet_256", bogus, tmp_path / "never")
    _one_line_error(res, "bogus.pth")
    assert not (tmp_path / "never").exists()


def test_the_lock_keeps_a_folder_it_did_not_create_or_that_holds_more(tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    with RunLock(existing):
        pass
    assert existing.is_dir()  # was there before: stays
    new = tmp_path / "new"
    with RunLock(new):
        (new / "config.json").write_text("{}")
    assert (new / "config.json").is_file()
    with RunLock(tmp_path / "empty"):
        pass
    assert not (tmp_path / "empty").exists()


def test_import_checkpoint_never_overwrites_a_run_without_force(invoke, tmp_path):
    out = tmp_path / "trained"
    assert invoke(*TINY, "--out", out, "--set", "trainer.max_steps=1").exit_code == 0
    g = Engine(warn=False).registries.architectures.build("unet", input_nc=3, output_nc=3, num_downs=5, ngf=4,
                                                           norm="batch")
    file = tmp_path / "latest_net_G.pth"
    torch.save(g.state_dict(), file)
    args = ("import-checkpoint", "--from", "junyanz", "--arch", "unet", file, out)
    _one_line_error(invoke(*args), "already holds a run", "--force")
    assert ckpt.read_pointer(out / "checkpoints").step == 1
    res = invoke(*args, "--force")
    assert res.exit_code == 0, res.output
    weights, config, _ = ckpt.load_weights(ckpt.find_weights(out))
    assert set(weights) == {"G"} and torch.equal(weights["G"]["model.model.0.weight"], g.state_dict()["model.model.0.weight"])


# --- filesystem and data errors are one line ------------------------------------------------------


def test_out_under_an_existing_file(invoke, tmp_path):
    (tmp_path / "afile").write_text("x")
    _one_line_error(invoke(*TINY, "--out", tmp_path / "afile" / "run"), "is a file, not a folder")


def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.fixture
def tmpfs(tmp_path):
    mounted = []

    def make(name: str, options: str) -> Path:
        path = tmp_path / name
        if not _mount_tmpfs(path, options):
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounted.append(path)
        return path

    yield make
    for path in mounted:
        subprocess.run(["umount", str(path)], capture_output=True)


def test_read_only_out_is_one_line(invoke, tmpfs):
    ro = tmpfs("ro", "size=1m,ro")
    _one_line_error(invoke(*TINY, "--out", ro / "run", "--set", "trainer.max_steps=1"), str(ro / "run"))


def test_a_full_disk_is_one_line(invoke, tmpfs):
    small = tmpfs("small", "size=64k")
    _one_line_error(invoke(*TINY, "--out", small / "run", "--set", "trainer.max_steps=2"), "No space left on device")
    assert not list((small / "run").rglob("*.tmp"))


def test_images_of_different_sizes_in_one_batch_name_both_files(invoke, tmp_path):
    root = tmp_path / "pairs"
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        for name, size in (("small", 32), ("large", 48)):
            Image.new("RGB", (2 * size, size), (90, 20, 200)).save(root / split / f"{name}.png")
    res = invoke(*TINY, "--data", root, "--out", tmp_path / "run", "--set", "data.preprocess=none",
                 "--set", "trainer.max_steps=2")
    line = _one_line_error(res, "different sizes", "small.png", "large.png")
    assert "32x32" in line and "48x48" in line

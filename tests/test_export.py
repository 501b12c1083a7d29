"""`i2i export`: onnxruntime parity at two sizes (dynamic axes) per model, metadata, other formats, missing extra,
and a model the core never heard of exported through the recipe contract alone."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from contract_toy import LabelToyPlugin, LabelToyRecipe
from translate_helpers import make_run

from i2i_core import ConfigError, Engine, ExportGraph, InferenceSpec
from i2i_core.base.errors import I2IError
from i2i_core.cli import cli
from i2i_core.inference.export import Exportable, export_run, read_metadata
from i2i_core.inference.translator import Translator

SMALL = ["model.ngf=4", "data.crop_size=32", "data.load_size=32"]
MODELS = {
    "pix2pix-unet": ("pix2pix", [*SMALL, "model.netG=unet", "model.num_downs=5"]),
    "pix2pix-unet-train-bn": ("pix2pix", [*SMALL, "model.netG=unet", "model.num_downs=5", "model.eval_mode=false"]),
    "pix2pix-resnet": ("pix2pix", [*SMALL, "model.netG=resnet", "model.n_blocks=2", "model.eval_mode=true"]),
    "cyclegan-junyanz": ("cyclegan", [*SMALL, "model.netG=resnet_6blocks"]),
    "cyclegan-book": ("cyclegan", ["data.crop_size=256", "data.load_size=286", "model.variant=book",
                                   "model.num_blocks=1", "model.width_div=16"]),
    "pix2pixhd-global": ("pix2pixhd", [*SMALL, "model.netG=global", "model.n_downsample_global=2",
                                       "model.n_blocks_global=1", "model.label_nc=6", "model.no_vgg_loss=true"]),
    "pix2pixhd-local": ("pix2pixhd", [*SMALL, "model.netG=local", "model.n_downsample_global=2",
                                      "model.n_blocks_global=1", "model.n_local_enhancers=1", "model.n_blocks_local=1",
                                      "model.label_nc=6", "model.no_vgg_loss=true"]),
}


def _inputs(t: Translator, side_h: int, side_w: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    if not t.ids_input:
        return (torch.rand(2, t.input_nc, side_h, side_w, generator=g) * 2 - 1,)
    blocks = torch.randint(0, 6, (2, 1, side_h // 8, side_w // 8), generator=g).float()
    label = blocks.repeat_interleave(8, 2).repeat_interleave(8, 3)
    inst = torch.randint(0, 4, blocks.shape, generator=g).float().repeat_interleave(8, 2).repeat_interleave(8, 3)
    return (label, inst)


@pytest.mark.parametrize("model", list(MODELS))
def test_onnx_matches_pytorch_at_two_sizes(i2i_shared_engine: Engine, tmp_path: Path, model: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    recipe, overrides = MODELS[model]
    run = make_run(i2i_shared_engine, tmp_path / "run", recipe, overrides)
    info = export_run(run, tmp_path / "g.onnx", engine=i2i_shared_engine)
    translator = Translator.from_run(run, device="cpu", engine=i2i_shared_engine)
    reference = Exportable(translator)
    session = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == info["input_names"]
    m = info["size_multiple"]
    for k, (h, w) in enumerate(((2 * m, 3 * m), (5 * m, 2 * m))):
        inputs = _inputs(translator, max(h, 32), max(w, 32), k)
        with torch.no_grad():
            expected = reference(*inputs).numpy()
        got = session.run(None, {n: x.numpy() for n, x in zip(info["input_names"], inputs, strict=True)})[0]
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-4, (model, h, w)
        if translator.ids_input:  # the graph is what `i2i translate` computes
            batch = {"label": inputs[0], "inst": inputs[1]}
            assert np.abs(translator.translate_batch(batch).numpy() - got).max() <= 1e-4
    if translator.ids_input:  # what the recipe's inference contract states, and the key older readers use
        assert info["input_names"] == ["label", "inst"] and info["input_kind"] == "label_map"
        assert info["classes"] == info["label_nc"] == 6 and info["input_channels"] == 1 and info["instance_map"]
    else:
        assert info["input_names"] == ["image"] and info["classes"] == 0 and "label_nc" not in info


def test_onnx_metadata_describes_the_input(i2i_shared_engine: Engine, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    run = make_run(i2i_shared_engine, tmp_path / "run", *MODELS["pix2pix-unet"])
    export_run(run, tmp_path / "g.onnx", engine=i2i_shared_engine)
    meta = read_metadata(tmp_path / "g.onnx")
    assert meta["input_names"] == ["image"] and meta["input_value_range"] == "[-1, 1]"
    assert meta["size_multiple"] == 32 and meta["input_channels"] == 3 and meta["output_channels"] == 3
    assert meta["layout"] == "NCHW" and meta["config"]["recipe"] == "pix2pix"


def test_feature_models_are_refused_in_one_line(i2i_shared_engine: Engine, tmp_path: Path) -> None:
    run = make_run(i2i_shared_engine, tmp_path / "run", "pix2pixhd", [
        *MODELS["pix2pixhd-global"][1], "model.instance_feat=true", "model.nef=4", "model.n_downsample_E=2"])
    with pytest.raises(ConfigError, match=r"instance_feat/label_feat is not supported") as err:
        export_run(run, tmp_path / "g.pt", fmt="torchscript", engine=i2i_shared_engine)
    assert "\n" not in str(err.value) and not (tmp_path / "g.pt").exists()


def test_a_model_the_core_never_heard_of_exports_through_its_recipe(tmp_path: Path) -> None:
    engine = Engine([LabelToyPlugin()], autoload=False, warn=False)
    run = make_run(engine, tmp_path / "run", "label_toy", ["data.crop_size=16", "data.load_size=16"])
    info = export_run(run, tmp_path / "g.pt", fmt="torchscript", engine=engine)
    assert (info["input_names"], info["input_kind"], info["input_value_range"]) == (["ids"], "label_map", "class ids")
    assert (info["classes"], info["input_channels"], info["output_channels"], info["size_multiple"]) == (3, 1, 2, 2)
    assert info["palette"] == "toy" and read_metadata(tmp_path / "g.pt") == info
    loaded = torch.jit.load(str(tmp_path / "g.pt"))
    ids = torch.randint(0, 3, (1, 1, 6, 10), generator=torch.Generator().manual_seed(3)).float()
    translator = Translator.from_run(run, device="cpu", engine=engine)
    with torch.no_grad():
        assert (loaded(ids) - translator.translate_batch({"ids": ids})).abs().max() <= 1e-6


def test_recipe_metadata_cannot_overwrite_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine([LabelToyPlugin()], autoload=False, warn=False)
    run = make_run(engine, tmp_path / "run", "label_toy", ["data.crop_size=16", "data.load_size=16"])
    own = LabelToyRecipe.export_graph

    def lying(self: LabelToyRecipe, spec: InferenceSpec, side: int) -> ExportGraph:
        graph = own(self, spec, side)
        graph.metadata["size_multiple"] = 1
        return graph

    monkeypatch.setattr(LabelToyRecipe, "export_graph", lying)
    with pytest.raises(ConfigError, match=r"metadata keys \['size_multiple'\] are the core's"):
        export_run(run, tmp_path / "g.pt", fmt="torchscript", engine=engine)


def test_contract_values_are_checked_in_one_line() -> None:
    with pytest.raises(ConfigError, match="a label-map input needs the class count"):
        InferenceSpec(input_kind="label_map")
    with pytest.raises(ConfigError, match="only a 'label_map' input has classes"):
        InferenceSpec(classes=4)
    with pytest.raises(ConfigError, match="one name per input"):
        ExportGraph(torch.nn.Identity(), (torch.zeros(1),), ("a", "b"))


def test_torchscript_export_runs_at_another_size(i2i_shared_engine: Engine, tmp_path: Path) -> None:
    run = make_run(i2i_shared_engine, tmp_path / "run", *MODELS["pix2pix-resnet"])
    export_run(run, tmp_path / "g.pt", fmt="torchscript", engine=i2i_shared_engine)
    loaded = torch.jit.load(str(tmp_path / "g.pt"))
    reference = Exportable(Translator.from_run(run, device="cpu", engine=i2i_shared_engine))
    x = torch.rand(1, 3, 44, 60) * 2 - 1
    with torch.no_grad():
        assert (loaded(x) - reference(x)).abs().max() <= 1e-5
    assert read_metadata(tmp_path / "g.pt")["size_multiple"] == 4


@pytest.mark.slow
def test_exported_program_runs_at_another_size(i2i_shared_engine: Engine, tmp_path: Path) -> None:
    run = make_run(i2i_shared_engine, tmp_path / "run", *MODELS["pix2pix-resnet"])
    export_run(run, tmp_path / "g.pt2", fmt="exported-program", engine=i2i_shared_engine)
    program = torch.export.load(str(tmp_path / "g.pt2"))
    reference = Exportable(Translator.from_run(run, device="cpu", engine=i2i_shared_engine))
    x = torch.rand(1, 3, 44, 60) * 2 - 1
    with torch.no_grad():
        assert (program.module()(x) - reference(x)).abs().max() <= 1e-5


def test_missing_onnx_is_one_line_naming_the_extra(i2i_shared_engine: Engine, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    monkeypatch.delitem(__import__("sys").modules, "onnx", raising=False)
    with pytest.raises(I2IError, match=r"i2i-core\[export\]"):
        export_run(tmp_path, tmp_path / "g.onnx", engine=i2i_shared_engine)


def test_export_command(i2i_shared_engine: Engine, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    run = make_run(i2i_shared_engine, tmp_path / "run", *MODELS["cyclegan-book"])
    result = CliRunner().invoke(cli, ["export", str(run), "--output", str(tmp_path / "g.onnx"), "--direction", "BtoA"],
                                obj={"engine": i2i_shared_engine}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g.onnx").is_file() and "size multiple 4" in result.output

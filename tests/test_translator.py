"""The Python API: `Translator.from_run(...)(image)` gives back the kind it got; `folder` batches; README example runs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from contract_toy import LabelToyPlugin
from PIL import Image
from translate_helpers import make_run

from i2i_core import ConfigError, Engine, InferenceSpec, Translator
from i2i_core.base.errors import DataError

README = Path(__file__).resolve().parents[1] / "README.md"
RESNET = ["model.netG=resnet", "model.n_blocks=1", "model.ngf=8", "data.crop_size=64", "data.load_size=64"]


@pytest.fixture(scope="module")
def translator(i2i_shared_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Translator:
    run = make_run(i2i_shared_engine, tmp_path_factory.mktemp("run") / "run", "pix2pix",
                   [*RESNET, "model.eval_mode=true"])
    return Translator.from_run(run, device="cpu", engine=i2i_shared_engine)


def test_pil_in_pil_out_at_its_own_size(translator: Translator) -> None:
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8))
    out = translator(img)
    assert isinstance(out, Image.Image) and out.size == (70, 50) and out.mode == "RGB"


def test_ndarray_in_ndarray_out_with_its_dtype(translator: Translator) -> None:
    rng = np.random.default_rng(0)
    assert translator(rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)).dtype == np.uint8
    grey16 = translator(rng.integers(0, 65535, (20, 28), dtype=np.uint16))  # grey into an RGB model: repeated
    assert grey16.dtype == np.uint16 and grey16.shape == (20, 28, 3)
    with pytest.raises(DataError, match="value range"):
        translator(rng.random((20, 28, 3), dtype=np.float32))
    translator.value_range = (0.0, 1.0)
    try:
        out = translator(rng.random((20, 28, 3), dtype=np.float32))
    finally:
        translator.value_range = None
    assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1


def test_tensor_in_tensor_out(translator: Translator) -> None:
    x = torch.rand(3, 30, 26) * 2 - 1
    y = translator(x)
    assert y.shape == (3, 30, 26) and y.dtype == torch.float32 and y.abs().max() <= 1
    assert translator(x[None].repeat(2, 1, 1, 1)).shape == (2, 3, 30, 26)


def test_path_in_image_out(translator: Translator, tmp_path: Path) -> None:
    Image.fromarray(np.zeros((16, 24, 3), np.uint8)).save(tmp_path / "p.png")
    assert translator(tmp_path / "p.png").size == (24, 16)
    with pytest.raises(DataError, match="cannot translate a dict"):
        translator({"not": "an image"})


def test_label_maps_and_instance_maps(i2i_shared_engine: Engine, tmp_path: Path) -> None:
    run = make_run(i2i_shared_engine, tmp_path / "hd", "pix2pixhd", [
        "model.netG=global", "model.ngf=4", "model.n_downsample_global=2", "model.n_blocks_global=1",
        "model.label_nc=8", "model.no_vgg_loss=true", "data.crop_size=32", "data.load_size=32"])
    t = Translator.from_run(run, device="cpu", engine=i2i_shared_engine)
    assert t.spec == InferenceSpec(input_kind="label_map", input_channels=1, output_channels=3, classes=8,
                                   instance_map=True, size_multiple=4)
    labels = np.random.default_rng(0).integers(0, 8, (36, 44), dtype=np.uint8)
    out = t(labels, inst=labels.astype(np.uint16))
    assert out.shape == (36, 44, 3) and out.dtype == np.uint8


def test_a_label_map_model_the_core_never_heard_of(tmp_path: Path) -> None:
    """A new model states its input through the recipe contract; translate needs no core change."""
    engine = Engine([LabelToyPlugin()], autoload=False, warn=False)
    run = make_run(engine, tmp_path / "run", "label_toy", ["data.crop_size=16", "data.load_size=16"])
    t = Translator.from_run(run, device="cpu", engine=engine)
    assert t.spec == InferenceSpec(input_kind="label_map", input_channels=1, output_channels=2, classes=3,
                                   size_multiple=2)
    ids = torch.from_numpy(np.random.default_rng(0).integers(0, 3, (1, 8, 12), dtype=np.uint8))
    with torch.no_grad():
        expected = t.recipe.nets["G"](ids[None].float())[0]
    assert torch.allclose(t(ids), expected, atol=1e-6)  # ids as they are, never normalised to [-1, 1]
    odd = t(np.random.default_rng(1).integers(0, 3, (9, 13), dtype=np.uint8))  # padded to the multiple, cropped
    assert odd.shape == (9, 13, 2) and odd.dtype == np.uint8
    with pytest.raises(ConfigError, match="takes no instance map"):
        t(ids, inst=ids)
    with pytest.raises(DataError, match="expected one channel of integer class ids"):
        t(np.zeros((8, 8, 3), np.uint8))


def test_cyclegan_btoa_reads_the_other_domains_channels(i2i_shared_engine: Engine, tmp_path: Path) -> None:
    run = make_run(i2i_shared_engine, tmp_path / "run", "cyclegan", [
        "model.netG=resnet_6blocks", "model.ngf=4", "model.ndf=4", "model.input_nc=1", "model.output_nc=3",
        "model.lambda_identity=0", "data.crop_size=32", "data.load_size=32"])
    forward = Translator.from_run(run, device="cpu", engine=i2i_shared_engine)
    backward = Translator.from_run(run, device="cpu", engine=i2i_shared_engine, overrides=["data.direction=BtoA"])
    assert (forward.spec.input_channels, forward.spec.output_channels) == (1, 3)
    assert (backward.spec.input_channels, backward.spec.output_channels) == (3, 1)
    assert backward(torch.rand(3, 20, 28) * 2 - 1).shape == (1, 20, 28)


def test_folder_batches_equal_sizes_and_reports_progress(translator: Translator, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    for i, size in enumerate([(32, 32)] * 5 + [(40, 24)] * 2):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    sizes: list[int] = []
    real = translator.translate_batch
    monkeypatch.setattr(translator, "translate_batch", lambda b: (sizes.append(len(b["A"])), real(b))[1])
    done: list[int] = []
    written = translator.folder(tmp_path, tmp_path / "out", batch_size=4, progress=done.append)
    assert len(written) == 7 and sum(done) == 7
    assert sizes == [4, 1, 2]  # equal sizes go together, up to batch_size


def test_batch_statistics_models_translate_one_image_at_a_time(i2i_shared_engine: Engine, tmp_path: Path) -> None:
    """pix2pix's reference default (train-mode BatchNorm) normalises over the batch: batching would change results."""
    # no dropout: it is random
    run = make_run(i2i_shared_engine, tmp_path / "run", "pix2pix", [*RESNET, "model.no_dropout=true"])
    t = Translator.from_run(run, device="cpu", engine=i2i_shared_engine)
    assert t.spec.batch_statistics and t.batch_dependent
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    one = [np.asarray(Image.open(p)) for p in t.folder(tmp_path, tmp_path / "a", batch_size=1)]
    many = [np.asarray(Image.open(p)) for p in t.folder(tmp_path, tmp_path / "b", batch_size=3)]
    assert all(np.array_equal(x, y) for x, y in zip(one, many, strict=True))


def test_readme_example_runs(i2i_shared_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"<!-- translator-example -->\s*```python\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md lost its Translator example"
    monkeypatch.chdir(tmp_path)
    make_run(i2i_shared_engine, tmp_path / "runs" / "facades", "pix2pix", [*RESNET, "model.eval_mode=true"])
    rng = np.random.default_rng(0)
    (tmp_path / "photos").mkdir()
    for name, size in (("photo.png", (48, 64)), ("photos/a.png", (32, 32)), ("photos/b.png", (40, 24))):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(tmp_path / name)
    namespace: dict = {}
    exec(compile(block.group(1), str(README), "exec"), namespace)  # noqa: S102 - the documented example
    assert namespace["out"].size == (64, 48)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]

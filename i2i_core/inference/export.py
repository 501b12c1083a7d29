"""Taking a generator out of i2i: ONNX, TorchScript and ``torch.export`` files that describe themselves.

The exported graph is what ``i2i translate`` computes for one batch:

* photo recipes (pix2pix, CycleGAN): input ``image``, NCHW float in [-1, 1] with
  ``input_nc`` channels; output ``output`` in [-1, 1];
* label-map recipes (pix2pixHD with ``label_nc > 0``): inputs ``label`` (N, 1, H, W) and, unless
  ``no_instance``, ``inst`` (N, 1, H, W), both integer ids stored as float; the one-hot encoding
  and the instance edge map are part of the graph.

Height and width are dynamic by default (fully convolutional generators); they must be multiples
of the generator's size multiple, which the metadata states together with the input names, the
value range, the channels and the run's config (ONNX ``metadata_props``; ``i2i.json`` among the
extra files of TorchScript and ``torch.export`` archives). Generators whose reference inference
normalises with batch statistics (pix2pix without ``eval_mode``) are exported that way: each
image is normalised with its own statistics, without dropout noise.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from i2i_core.base.errors import ConfigError, first_line
from i2i_core.inference.tiling import size_multiple
from i2i_core.io.images import require

FORMATS = ("onnx", "torchscript", "exported-program")


class BatchStatisticsNorm(nn.Module):
    """BatchNorm as train mode computes it (statistics of the batch at hand), as plain ops every
    exporter handles; the running statistics are neither used nor updated."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm) -> None:
        super().__init__()
        self.eps = bn.eps
        self.weight = bn.weight
        self.bias = bn.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = (x - mean).pow(2).mean(dim=(0, 2, 3), keepdim=True)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


class Exportable(nn.Module):
    """The recipe's inference as a plain module: ``forward(image)`` or ``forward(label, inst)``.

    Args:
        translator: a loaded :class:`~i2i_core.inference.translator.Translator`.
    """

    def __init__(self, translator: Any) -> None:
        super().__init__()
        recipe = translator.recipe
        self.recipe = recipe
        self.net = copy.deepcopy(recipe.nets[translator.net_name]).cpu()
        cfg = recipe.config
        if getattr(cfg, "instance_feat", False) or getattr(cfg, "label_feat", False):
            raise ConfigError("export of a pix2pixHD model with instance_feat/label_feat is not supported: its "
                              "features are sampled from clusters at run time; export a model trained without them")
        self.net.eval()
        if getattr(cfg, "eval_mode", True) is False:
            # the reference's test.py default: BatchNorm with the batch's statistics, never updated in the graph
            for name, m in list(self.net.named_modules()):
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    parent = self.net.get_submodule(name.rpartition(".")[0]) if "." in name else self.net
                    setattr(parent, name.rpartition(".")[2], BatchStatisticsNorm(m))
        self.ids_input = translator.ids_input
        self.with_inst = self.ids_input and not getattr(cfg, "no_instance", True)
        self.key = recipe.inference.input

    @property
    def input_names(self) -> list[str]:
        return ["label", "inst"] if self.with_inst else ["label"] if self.ids_input else ["image"]

    def forward(self, x: torch.Tensor, inst: torch.Tensor | None = None) -> torch.Tensor:
        if not self.ids_input:
            return self.net(x)
        batch: dict[str, torch.Tensor] = {self.key: x}
        if inst is not None:
            batch["inst"] = inst
        return self.net(self.recipe.generator_input(batch))


def _examples(module: Exportable, channels: int, side: int, dtype: torch.dtype, label_nc: int) -> tuple:
    """Example inputs for tracing; batch 2, so that exporters do not specialise the batch size to 1."""
    g = torch.Generator().manual_seed(0)
    if not module.ids_input:
        return (torch.rand(2, channels, side, side, generator=g, dtype=torch.float32).mul(2).sub(1).to(dtype),)
    label = torch.randint(0, label_nc, (2, 1, side, side), generator=g).float()
    if module.with_inst:
        return label, torch.randint(0, 4, (2, 1, side, side), generator=g).float()
    return (label,)


def export_run(run: str | Path, output: str | Path, *, fmt: str = "onnx", dynamic: bool = True, fp16: bool = False,
               size: int | None = None, overrides: list[str] | tuple[str, ...] = (), engine: Any = None,
               opset: int = 17) -> dict[str, Any]:
    """Export ``run``'s inference generator to ``output``; returns the metadata written with it.

    Args:
        run: run folder or weights file.
        output: the file to write.
        fmt: ``onnx``, ``torchscript`` or ``exported-program``.
        dynamic: dynamic batch, height and width (else fixed at the example size).
        fp16: half-precision weights and inputs.
        size: example side for tracing (default: the training crop, rounded to the size multiple).
        overrides: config overrides (e.g. ``data.direction=BtoA``).

    Raises:
        ConfigError: unknown format, or a model that cannot be exported.
        I2IError: onnx/onnxruntime missing (``pip install i2i-core[export]``).
    """
    from i2i_core.inference.translator import Translator

    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "onnx":
        require("onnx", "export to ONNX", "pip install 'i2i-core[export]'")
    translator = Translator.from_run(run, device="cpu", overrides=list(overrides), engine=engine)
    module = Exportable(translator)
    multiple = size_multiple(module.net)
    side = size or translator.run.data.crop_size
    side = max(multiple, -(-side // multiple) * multiple)
    dtype = torch.float16 if fp16 else torch.float32
    if fp16:
        module = module.half()
    cfg = translator.recipe.config
    label_nc = int(getattr(cfg, "label_nc", 0) or 0)
    in_nc = translator.input_nc if not module.ids_input else 1
    examples = _examples(module, in_nc or 3, side, dtype, max(1, label_nc))
    if module.ids_input and fp16:
        examples = tuple(e.half() for e in examples)
    with torch.no_grad():
        out = module(*examples)
    info: dict[str, Any] = {
        "format": "i2i-export", "recipe": translator.run.recipe, "input_names": module.input_names,
        "output_name": "output", "layout": "NCHW", "dtype": "float16" if fp16 else "float32",
        "input_value_range": "class ids" if module.ids_input else "[-1, 1]", "output_value_range": "[-1, 1]",
        "input_channels": 1 if module.ids_input else in_nc, "output_channels": int(out.shape[1]),
        "size_multiple": multiple, "dynamic": dynamic, "label_nc": label_nc,
        "config": translator.run.model_dump(mode="json"),
    }
    info["inputs"] = ", ".join(f"{n} (N,{1 if module.ids_input else in_nc},H,W)" for n in module.input_names)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "onnx":
        _to_onnx(module, examples, output, info, dynamic, opset)
    elif fmt == "torchscript":
        with torch.no_grad():
            traced = torch.jit.trace(module, examples, check_trace=False)
        torch.jit.save(traced, str(output), _extra_files={"i2i.json": json.dumps(info)})
    else:
        from torch.export import Dim, export

        shapes = None
        if dynamic:
            h, w = Dim("h_blocks", min=1), Dim("w_blocks", min=1)
            spec = {0: Dim("batch", min=1), 2: multiple * h, 3: multiple * w}
            shapes = {"x": spec, **({"inst": spec} if module.with_inst else {})}
        try:
            program = export(module, examples, dynamic_shapes=shapes)
        except Exception as exc:  # data-dependent checks (e.g. label ids) do not trace
            raise ConfigError(f"torch.export cannot capture this {info['recipe']} model ({type(exc).__name__}: "
                              f"{first_line(exc)}); use --format onnx or torchscript") from None
        torch.export.save(program, str(output), extra_files={"i2i.json": json.dumps(info)})
    return info


def _to_onnx(module: Exportable, examples: tuple, output: Path, info: dict, dynamic: bool, opset: int) -> None:
    import warnings

    import onnx

    axes = {0: "batch", 2: "height", 3: "width"}
    dynamic_axes = {name: axes for name in [*module.input_names, "output"]} if dynamic else None
    with warnings.catch_warnings():
        # tracing turns Python-side checks (label ids in range) into constants: expected here
        warnings.simplefilter("ignore")
        torch.onnx.export(module, examples, str(output), dynamo=False, input_names=module.input_names,
                          output_names=["output"], dynamic_axes=dynamic_axes, opset_version=opset)
    model = onnx.load(str(output))
    for key, value in info.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"i2i.{key}", json.dumps(value)  # every value JSON: read_metadata decodes all
    model.doc_string = (f"i2i {info['recipe']} generator: inputs {info['inputs']} ({info['input_value_range']}), "
                        f"H and W multiples of {info['size_multiple']}; output (N,{info['output_channels']},H,W) "
                        f"in [-1, 1]")
    onnx.save(model, str(output))


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``i2i.*`` metadata of an exported file (any of the three formats)."""
    path = Path(path)
    if path.suffix == ".onnx":
        onnx = require("onnx", "read ONNX files", "pip install 'i2i-core[export]'")
        model = onnx.load(str(path), load_external_data=False)
        out = {}
        for p in model.metadata_props:
            if p.key.startswith("i2i."):
                try:
                    out[p.key[4:]] = json.loads(p.value)
                except ValueError:
                    out[p.key[4:]] = p.value
        return out
    extra = {"i2i.json": ""}
    try:
        torch.jit.load(str(path), _extra_files=extra)
    except RuntimeError:
        import zipfile

        with zipfile.ZipFile(path) as zf:
            name = next(n for n in zf.namelist() if n.endswith("i2i.json"))
            extra["i2i.json"] = zf.read(name).decode()
    return json.loads(extra["i2i.json"])

"""Taking a generator out of i2i: ONNX, TorchScript and ``torch.export`` files that describe themselves.

The exported graph is what ``i2i translate`` computes for one batch, as the recipe's
:meth:`~i2i_core.recipe.contract.Recipe.export_graph` states it:

* image models (pix2pix, CycleGAN; the default ``export_graph``): input ``image``, NCHW float in
  [-1, 1] with the model's input channels; output ``output`` in [-1, 1];
* label-map models (pix2pixHD): the inputs the recipe names (``label`` and ``inst``: (N, 1, H, W)
  integer ids stored as float), with the recipe's pre-processing (one-hot encoding, instance edges)
  inside the graph.

Height and width are dynamic by default (fully convolutional generators); they must be multiples
of the generator's size multiple, which the metadata states together with the input names, the
value range, the channels and the run's config (ONNX ``metadata_props``; ``i2i.json`` among the
extra files of TorchScript and ``torch.export`` archives). Models whose inference normalises with
batch statistics (``InferenceSpec.batch_statistics``: pix2pix without ``eval_mode``) are exported
that way: each batch is normalised with its own statistics, without dropout noise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from i2i_core.base.errors import ConfigError, first_line
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


def _with_batch_statistics(module: nn.Module) -> None:
    """Replace every BatchNorm of ``module`` (in place) by :class:`BatchStatisticsNorm`."""
    for name, m in list(module.named_modules()):
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            parent = module.get_submodule(name.rpartition(".")[0]) if "." in name else module
            setattr(parent, name.rpartition(".")[2], BatchStatisticsNorm(m))


def example_side(translator: Any, size: int | None = None) -> int:
    """The tracing side: ``size`` (default the training crop) rounded up to the size multiple."""
    multiple = translator.multiple
    side = size or translator.run.data.crop_size
    return max(multiple, -(-side // multiple) * multiple)


class Exportable(nn.Module):
    """The recipe's inference as a plain module, ready to trace: ``forward(*inputs)``.

    Built from :meth:`~i2i_core.recipe.contract.Recipe.export_graph`, in eval mode, with
    per-batch normalisation when the model's outputs depend on batch statistics.

    Args:
        translator: a loaded :class:`~i2i_core.inference.translator.Translator`.
        size: example side for tracing (default: the training crop, rounded to the size multiple).
    """

    def __init__(self, translator: Any, size: int | None = None) -> None:
        super().__init__()
        spec = translator.spec
        graph = translator.recipe.export_graph(spec, example_side(translator, size))
        self.net = graph.module.cpu()
        self.net.eval()
        if spec.batch_statistics:
            # the reference's test.py default: BatchNorm with the batch's statistics, never updated in the graph
            _with_batch_statistics(self.net)
        self.examples = tuple(graph.inputs)
        self.input_names = list(graph.input_names)
        self.metadata = dict(graph.metadata)
        self.spec = spec

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.net(*inputs)


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
    module = Exportable(translator, size)
    spec, multiple = module.spec, translator.multiple
    examples = module.examples
    if fp16:
        module = module.half()
        examples = tuple(e.half() if e.is_floating_point() else e for e in examples)
    with torch.no_grad():
        out = module(*examples)
    info: dict[str, Any] = {
        "format": "i2i-export", "recipe": translator.run.recipe, "input_names": module.input_names,
        "output_name": "output", "layout": "NCHW", "dtype": "float16" if fp16 else "float32",
        "input_kind": spec.input_kind, "input_value_range": "class ids" if spec.reads_ids else "[-1, 1]",
        "output_value_range": "[-1, 1]", "input_channels": spec.input_channels,
        "output_channels": int(out.shape[1]), "size_multiple": multiple, "dynamic": dynamic,
        "classes": spec.classes, "instance_map": spec.instance_map,
        "config": translator.run.model_dump(mode="json"),
    }
    info["inputs"] = ", ".join(f"{n} (N,{e.shape[1]},H,W)" for n, e in zip(module.input_names, examples, strict=True))
    clash = sorted(set(module.metadata) & set(info))
    if clash:
        raise ConfigError(f"recipe {info['recipe']!r}: ExportGraph.metadata keys {clash} are the core's; "
                          "expected keys of the recipe's own")
    info.update(module.metadata)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "onnx":
        _to_onnx(module, examples, output, info, dynamic, opset)
    elif fmt == "torchscript":
        with torch.no_grad():
            traced = torch.jit.trace(module.net, examples, check_trace=False)
        torch.jit.save(traced, str(output), _extra_files={"i2i.json": json.dumps(info)})
    else:
        from torch.export import Dim, export

        shapes = None
        if dynamic:
            # every input shares N, H and W (an instance map is the label map's size)
            h, w = Dim("h_blocks", min=1), Dim("w_blocks", min=1)
            spec_dims = {0: Dim("batch", min=1), 2: multiple * h, 3: multiple * w}
            shapes = tuple(spec_dims for _ in examples)
        try:
            program = export(module.net, examples, dynamic_shapes=shapes)
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
        torch.onnx.export(module.net, examples, str(output), dynamo=False, input_names=module.input_names,
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

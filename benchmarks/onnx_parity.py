"""ONNX parity per model: max abs difference between onnxruntime and PyTorch at two input sizes.

Usage::

    python benchmarks/onnx_parity.py [--ngf 16]

For each generator i2i exports (pix2pix U-Net and ResNet, CycleGAN junyanz and book variants,
pix2pixHD global and local with instance maps) builds it with random weights, exports it with
dynamic axes (``i2i_core.inference.export.export_run``) and runs it through onnxruntime at two sizes that
differ from the tracing size, printing the largest difference to the PyTorch module.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch


def models(ngf: int) -> dict[str, tuple[str, list[str]]]:
    small = [f"model.ngf={ngf}", "data.crop_size=64", "data.load_size=64"]
    hd = [*small, "model.n_downsample_global=3", "model.n_blocks_global=3", "model.label_nc=12",
          "model.no_vgg_loss=true"]
    return {
        "pix2pix unet_256 (train-mode BN, reference default)": ("pix2pix", [*small, "model.netG=unet_256",
                                                                            "data.crop_size=256", "data.load_size=256"]),
        "pix2pix resnet_9blocks (eval)": ("pix2pix", [*small, "model.netG=resnet_9blocks", "model.eval_mode=true"]),
        "cyclegan junyanz resnet_9blocks": ("cyclegan", [*small, "model.netG=resnet_9blocks"]),
        "cyclegan book": ("cyclegan", ["data.crop_size=256", "data.load_size=286", "model.variant=book",
                                       "model.num_blocks=9", "model.width_div=4"]),
        "pix2pixhd global + instance maps": ("pix2pixhd", [*hd, "model.netG=global"]),
        "pix2pixhd local + instance maps": ("pix2pixhd", [*hd, "model.netG=local", "model.n_local_enhancers=1",
                                                          "model.n_blocks_local=2"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngf", type=int, default=16)
    args = parser.parse_args()
    import onnxruntime as ort

    from i2i_core import Engine, Translator
    from i2i_core.inference.export import Exportable, export_run
    from i2i_core.io import checkpoint as ckpt

    engine = Engine(warn=False)
    print("| model | size multiple | input sizes | max abs diff (onnxruntime vs PyTorch) |")
    print("|---|---|---|---|")
    for label, (recipe_name, overrides) in models(args.ngf).items():
        with tempfile.TemporaryDirectory() as tmp:
            run = engine.resolve_config(recipe_name, overrides=overrides)
            torch.manual_seed(0)
            recipe = engine.build_recipe(run, device="cpu", training=False)
            folder = Path(tmp) / "run"
            ckpt.save_weights(folder / "checkpoints" / "latest.safetensors", recipe.nets, run.model_dump(mode="json"))
            (folder / "config.json").write_text(json.dumps(run.model_dump(mode="json")))
            info = export_run(folder, Path(tmp) / "g.onnx", engine=engine)
            t = Translator.from_run(folder, device="cpu", engine=engine)
            module = Exportable(t)
            session = ort.InferenceSession(str(Path(tmp) / "g.onnx"), providers=["CPUExecutionProvider"])
            m = info["size_multiple"]
            sizes = [(max(m, 96 // m * m), max(m, 160 // m * m)), (max(2 * m, 224 // m * m), max(m, 128 // m * m))]
            worst = 0.0
            g = torch.Generator().manual_seed(1)
            for h, w in sizes:
                if t.ids_input:
                    label_nc = t.recipe.config.label_nc
                    inputs = (torch.randint(0, label_nc, (1, 1, h // 8, w // 8), generator=g).float()
                              .repeat_interleave(8, 2).repeat_interleave(8, 3),
                              torch.randint(0, 5, (1, 1, h // 8, w // 8), generator=g).float()
                              .repeat_interleave(8, 2).repeat_interleave(8, 3))
                else:
                    inputs = (torch.rand(1, t.input_nc, h, w, generator=g) * 2 - 1,)
                with torch.no_grad():
                    expected = module(*inputs).numpy()
                got = session.run(None, {n: x.numpy() for n, x in zip(info["input_names"], inputs, strict=True)})[0]
                worst = max(worst, float(np.abs(got - expected).max()))
            print(f"| {label} | {m} | {', '.join(f'{h}x{w}' for h, w in sizes)} | {worst:.1e} |", flush=True)


if __name__ == "__main__":
    main()

"""The ``pix2pix`` recipe: conditional GAN with an L1 term (Isola et al., CVPR 2017).

One iteration is junyanz's ``Pix2PixModel.optimize_parameters``:

1. ``fake_B = G(real_A)``;
2. discriminator step on ``cat(A, fake_B).detach()`` (fake) and ``cat(A, B)`` (real),
   ``loss_D = 0.5 * (D_fake + D_real)`` (+ a gradient penalty with ``gan_mode="wgangp"`` only when
   ``lambda_gp > 0``: junyanz defines one but never adds it, so the default is 0);
3. generator step against the **updated** D (frozen), ``loss_G = GAN(D(cat(A, fake_B)), real)
   + lambda_L1 * L1(fake_B, B)``.

The D therefore runs three times per iteration in train mode (its BatchNorm statistics
move three times). Batches hold the input as ``A`` and the target as ``B``: the readers
apply ``data.direction`` (they swap the halves for ``BtoA``, where the reference's
``set_input`` swaps them), so the recipe never looks at it.

Inference follows the reference's ``test.py``: unless ``eval_mode`` is set, the generator
stays in train mode (batch statistics, active dropout).
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from i2i_core import (
    BuildContext,
    ConfigError,
    GANMode,
    ImageGANConfig,
    InferenceSpec,
    Modules,
    NormName,
    Recipe,
    RunConfig,
    StepContext,
    check_channels,
    detach_losses,
    gradient_penalty,
    set_reader_channels,
)

from .networks import UNET_DOWNS

#: ResNet generators (inputs should be multiples of 4) and the preprocess modes with a fixed crop size
_RESNETS = ("resnet_6blocks", "resnet_9blocks", "resnet")
_CROPPING = ("resize_and_crop", "crop", "scale_width_and_crop")


class Pix2PixConfig(ImageGANConfig):
    """``model.*`` options of pix2pix (names and defaults of the reference's options).

    The shared options (channels, widths, ``norm``, init, ``no_dropout``, ``gan_mode``) come
    from :class:`i2i_core.ImageGANConfig`; pix2pix changes two defaults, as the reference's
    ``Pix2PixModel`` does.
    """

    netG: str = Field("unet_256", description="generator: unet_256, unet_128, resnet_9blocks, resnet_6blocks, unet, resnet")
    netD: str = Field("basic", description="discriminator: basic (70x70 PatchGAN), n_layers, pixel")
    n_layers_D: int = Field(3, ge=1, description="strided layers of the discriminator when netD=n_layers")
    # only_for: a later --set/--config that changes netG clears these (with a note) instead of failing
    num_downs: int | None = Field(None, ge=5, description="netG=unet only: number of downsamplings (default 8)",
                                  json_schema_extra={"only_for": {"netG": ["unet"]}})
    n_blocks: int | None = Field(None, ge=0, description="netG=resnet only: residual blocks (default 6)",
                                 json_schema_extra={"only_for": {"netG": ["resnet"]}})
    norm: NormName = Field("batch", description="normalisation of G and D")
    gan_mode: GANMode = Field("vanilla", description="adversarial loss")
    lambda_L1: float = Field(100.0, ge=0, description="weight of the L1 term")
    lambda_gp: float = Field(0.0, ge=0, description="gan_mode=wgangp only: weight of a WGAN-GP gradient penalty "
                             "(0 as in junyanz, whose models never add one; 10 is the WGAN-GP paper's value)")
    eval_mode: bool = Field(
        False, description="inference with G.eval() (running BN statistics, no dropout); False = the reference's "
                           "test.py default: batch statistics and active dropout")


def _unet_downs(model: dict[str, Any]) -> int | None:
    if model["netG"] in UNET_DOWNS:
        return UNET_DOWNS[model["netG"]]
    if model["netG"] == "unet":
        return model.get("num_downs") or 8
    return None


class Pix2PixRecipe(Recipe[Pix2PixConfig]):
    """pix2pix: ``G: A -> B`` trained with a conditional PatchGAN and an L1 loss.

    Networks: ``G`` (generator) and, when training, ``D`` (discriminator on
    ``cat(input, output)``). Optimizers: ``G``, ``D`` (the trainer's Adam settings).

    Example:
        ``i2i run pix2pix --preset demo`` trains it on synthetic aligned pairs.
    """

    name = "pix2pix"
    Config = Pix2PixConfig
    defaults = {"data": {"dataset": "aligned"}}

    # --- configuration -------------------------------------------------------------
    @classmethod
    def validate_run(cls, run: RunConfig) -> None:
        model = run.model if isinstance(run.model, dict) else run.model.model_dump()
        netG = model["netG"]
        if model.get("num_downs") is not None and netG != "unet":
            raise ConfigError(f"model.num_downs only applies to netG='unet' (model.netG is {netG!r})")
        if model.get("n_blocks") is not None and netG != "resnet":
            raise ConfigError(f"model.n_blocks only applies to netG='resnet' (model.netG is {netG!r})")
        if run.data.preprocess not in _CROPPING:
            return  # sizes vary per image; the generator checks them at run time
        crop = run.data.crop_size
        downs = _unet_downs(model)
        if downs is not None:
            multiple = 2**downs
            if crop % multiple:
                suggestion = max(multiple, crop // multiple * multiple)
                raise ConfigError(
                    f"data.crop_size {crop} does not suit model.netG={netG!r}: a U-Net with {downs} downsamplings "
                    f"needs a multiple of {multiple} (e.g. data.crop_size={suggestion}, or netG=unet_128 / "
                    f"netG=unet with num_downs)")
        elif netG in _RESNETS and crop % 4:
            raise ConfigError(f"data.crop_size {crop} does not suit model.netG={netG!r}: expected a multiple of 4 "
                              f"(e.g. {crop // 4 * 4 or 4})")

    def generator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the registered generator builder."""
        c = self.config
        kw: dict[str, Any] = {"input_nc": c.input_nc, "output_nc": c.output_nc, "ngf": c.ngf, "norm": c.norm,
                              "use_dropout": not c.no_dropout, "init_type": c.init_type, "init_gain": c.init_gain}
        if c.netG == "unet" and c.num_downs is not None:
            kw["num_downs"] = c.num_downs
        if c.netG == "resnet" and c.n_blocks is not None:
            kw["n_blocks"] = c.n_blocks
        return kw

    def discriminator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the registered discriminator builder (it sees ``cat(A, B)``)."""
        c = self.config
        kw: dict[str, Any] = {"input_nc": c.input_nc + c.output_nc, "ndf": c.ndf, "norm": c.norm,
                              "init_type": c.init_type, "init_gain": c.init_gain}
        if c.netD == "n_layers":
            kw["n_layers"] = c.n_layers_D
        return kw

    # --- building ----------------------------------------------------------------------
    def build(self, ctx: BuildContext) -> Modules:
        c = self.config
        # G before D: the reference's order, so one seed gives the reference's initial weights
        G = ctx.architecture(c.netG, **self.generator_kwargs())
        if not ctx.training:
            return Modules(nets={"G": G}, optimizers={})
        D = ctx.architecture(c.netD, **self.discriminator_kwargs())
        self.criterion_gan = ctx.loss("gan", gan_mode=c.gan_mode)
        self.criterion_l1 = ctx.loss("l1")
        optimizers = {"G": ctx.optimizer(G.parameters()), "D": ctx.optimizer(D.parameters())}
        return Modules(nets={"G": G, "D": D}, optimizers=optimizers)

    # --- data ----------------------------------------------------------------------------
    def configure_dataset(self, dataset: Any, split: str = "train") -> Any:
        """Make an i2i reader load one-channel images where ``input_nc``/``output_nc`` is 1.

        The reference's aligned dataset reads A (B) as grayscale when ``input_nc``
        (``output_nc``) is 1; i2i readers expose that as their ``grayscale`` attribute.
        """
        return set_reader_channels(dataset, {"A": self.config.input_nc, "B": self.config.output_nc})

    # --- training ------------------------------------------------------------------------
    def training_step(self, batch: dict, step: StepContext) -> dict[str, torch.Tensor | float]:
        c = self.config
        G, D = self.nets["G"], self.nets["D"]
        opt_G, opt_D = self.optimizers["G"], self.optimizers["D"]
        real_A, real_B = batch["A"], batch["B"]
        check_channels(real_A, c, "input_nc", "the batch's 'A'")
        check_channels(real_B, c, "output_nc", "the batch's 'B'")
        gan = self.criterion_gan

        fake_B = G(real_A)
        fake_AB = torch.cat((real_A, fake_B), 1)
        real_AB = torch.cat((real_A, real_B), 1)

        # discriminator: fakes are detached so G gets no gradient from this step
        step.requires_grad(D, True)
        step.zero_grad(opt_D)
        loss_D_fake = gan(D(fake_AB.detach()), False)
        loss_D_real = gan(D(real_AB), True)
        loss_D = (loss_D_fake + loss_D_real) * 0.5
        logs: dict[str, torch.Tensor | float] = {}
        if c.gan_mode == "wgangp" and c.lambda_gp > 0:
            with step.full_precision():  # the penalty differentiates a gradient norm: keep it in fp32
                penalty, _ = gradient_penalty(D, real_AB.float(), fake_AB.detach().float(), type="mixed",
                                              constant=1.0, lambda_gp=c.lambda_gp)
            loss_D = loss_D + penalty
            logs["D_gp"] = penalty
        step.backward(loss_D)
        step.optimizer_step(opt_D)

        # generator, against the updated (frozen) discriminator
        step.requires_grad(D, False)
        step.zero_grad(opt_G)
        loss_G_GAN = gan(D(fake_AB), True, for_discriminator=False)
        loss_G_L1 = self.criterion_l1(fake_B, real_B) * c.lambda_L1
        loss_G = loss_G_GAN + loss_G_L1
        step.backward(loss_G)
        step.optimizer_step(opt_G)
        step.requires_grad(D, True)

        logs = {"G_GAN": loss_G_GAN, "G_L1": loss_G_L1, "D_real": loss_D_real, "D_fake": loss_D_fake,
                "D": loss_D, "G": loss_G, **logs}
        return detach_losses(logs)

    # --- inference -------------------------------------------------------------------------
    def translate(self, batch: dict) -> torch.Tensor:
        """``G(batch["A"])`` in ``[-1, 1]``; train-mode G (batch statistics, dropout) unless ``eval_mode``.

        Like the reference's ``test.py`` without ``--eval``, the default normalises with the
        statistics of the batch at hand and keeps dropout active (outputs vary between
        calls); ``eval_mode=True`` uses the running statistics and no dropout. The caller's
        train/eval mode and the BatchNorm running statistics are left untouched.
        """
        x = batch["A"]
        check_channels(x, self.config, "input_nc", "the batch's 'A'")
        G = self.nets["G"]
        was_training = G.training
        saved = [b.clone() for b in G.buffers()] if not self.config.eval_mode else []
        G.train(not self.config.eval_mode)
        try:
            with torch.no_grad():
                return G(x)
        finally:
            G.train(was_training)
            if saved:
                with torch.no_grad():
                    for b, old in zip(G.buffers(), saved, strict=True):
                        b.copy_(old)

    def inference_spec(self) -> InferenceSpec:
        """Images of ``input_nc`` channels to ``output_nc``; without ``eval_mode`` a batch-norm G
        normalises with the batch's statistics (the reference's test.py)."""
        c = self.config
        return InferenceSpec(input_channels=c.input_nc, output_channels=c.output_nc,
                             batch_statistics=not c.eval_mode and c.norm == "batch")

    def sample(self, batch: dict) -> dict[str, torch.Tensor]:
        """``real_A`` (input), ``fake_B`` (output) and, for pairs, ``real_B`` (target)."""
        out = {"real_A": batch["A"], "fake_B": self.translate(batch)}
        if "B" in batch:
            out["real_B"] = batch["B"]
        return out

    def evaluation_pair(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(G(A), B, A)``; the identity baseline only when A and B have the same shape."""
        pred = self.translate(batch)
        ident = batch["A"] if batch["A"].shape == batch["B"].shape else None
        return pred, batch["B"], ident

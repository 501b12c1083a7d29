"""The ``cut`` recipe: CUT and FastCUT (Park et al., "Contrastive Learning for Unpaired
Image-to-Image Translation", ECCV 2020), as ``CUTModel`` of taesungp/contrastive-unpaired-translation.

One generator ``G`` (A -> B), one PatchGAN ``D`` (judges B) and netF ``F`` (patch MLPs). Each
iteration, in the reference's order:

1. forward: ``real = cat(A, B)`` with ``nce_idt`` (else ``A``); with ``flip_equivariance`` the
   whole of it is flipped along W when :meth:`Draws.flip` says so; ``fake = G(real)``,
   ``fake_B = fake[:n]``, ``idt_B = fake[n:]``;
2. D step: ``D = 0.5 * (GAN(D(fake_B.detach()), fake) + GAN(D(real_B), real))``;
3. G and F step with D frozen (and already updated), one backward, then G's and F's Adam:
   ``G = lambda_GAN * GAN(D(fake_B), real) + NCE`` or, with ``nce_idt``,
   ``+ 0.5 * (NCE + NCE_Y)``. ``NCE(src, tgt)`` taps ``G``'s layers ``nce_layers`` on ``tgt``
   (flipped back when the step flipped) and on ``src``, samples the same ``num_patches``
   positions of both through ``F`` and averages ``lambda_NCE * PatchNCE`` over patches, then
   over layers. NCE is on (real_A, fake_B), NCE_Y on (real_B, idt_B).

Every GAN term is ``.mean()``-ed (``nonsaturating`` gives one value per sample).

Modes (presets ``cut`` / ``fastcut``): CUT = ``nce_idt`` on, ``lambda_NCE`` 1; FastCUT =
``nce_idt`` off, ``lambda_NCE`` 10, ``flip_equivariance`` on.

The random choices of a step (flip, patch ids) come from :attr:`CUTRecipe.draws`, NumPy's
global generator by default (see :mod:`i2i_cut.draws`); assign a :class:`~i2i_cut.draws.ReplayedDraws`
to replay recorded ones.

netF's MLPs are sized by the generator's taps, which the reference only learns on its first
batch (``data_dependent_initialize``). Here :meth:`CUTRecipe.build` runs the generator once on
a small blank image to read the tap channels and creates them right away, so the checkpoint,
the optimizers and distributed wrappers see a complete ``F`` from the start. The torch RNG
order is the reference's (G, then D, then netF's MLPs), so one seed gives its initial weights.

``data.direction``: the readers put the source domain under ``A``, so ``G`` always maps the
reader's ``A`` to its ``B`` (for ``BtoA``, the ``<split>B`` folder to ``<split>A``), as the
reference's ``set_input`` does.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

import torch
from pydantic import Field, field_validator

from i2i_core import (
    BuildContext,
    ConfigError,
    InferenceSpec,
    Modules,
    Recipe,
    RecipeConfig,
    RunConfig,
    StepContext,
    check_channels,
    detach_losses,
    set_reader_channels,
)

from .draws import Draws, NumpyDraws
from .gan_loss import CUTGANLoss
from .networks import PatchSampleF, cut_n_layer_discriminator, cut_resnet_generator, generator_depth
from .networks.generator import N_RESAMPLINGS, check_layers
from .patchnce import PatchNCELoss

#: --netG choices -> residual blocks
GENERATORS = {"resnet_9blocks": 9, "resnet_6blocks": 6, "resnet_4blocks": 4}
_CROPPING = ("resize_and_crop", "crop", "scale_width_and_crop")
#: side of the blank image whose forward reveals the taps' channels (any side that survives the
#: reflection pads gives the same channels; a small one keeps the build cheap)
_PROBE_SIDE = 16


class CUTConfig(RecipeConfig):
    """``model.*`` options of CUT (the reference's option names; its CUT-mode defaults)."""

    input_nc: int = Field(3, gt=0, description="channels of domain A images")
    output_nc: int = Field(3, gt=0, description="channels of domain B images")
    ngf: int = Field(64, gt=0, description="generator width (filters of the first conv)")
    ndf: int = Field(64, gt=0, description="discriminator width (filters of the first conv)")
    netG: Literal["resnet_9blocks", "resnet_6blocks", "resnet_4blocks"] = Field(
        "resnet_9blocks", description="generator: antialiased ResNet with 9, 6 or 4 residual blocks")
    netD: Literal["basic", "n_layers"] = Field("basic", description="discriminator: basic = 70x70 PatchGAN, "
                                                                    "n_layers = n_layers_D stages")
    n_layers_D: int = Field(3, ge=1, description="downsampling stages of the discriminator when netD=n_layers")
    normG: Literal["instance", "batch", "none"] = Field("instance", description="normalisation in G")
    normD: Literal["instance", "batch", "none"] = Field("instance", description="normalisation in D")
    init_type: Literal["normal", "xavier", "kaiming", "orthogonal"] = Field("xavier", description="weight init")
    init_gain: float = Field(0.02, ge=0, description="scale of the normal/xavier/orthogonal init")
    no_dropout: bool = Field(True, description="no dropout in G's residual blocks (the reference's default)")
    no_antialias: bool = Field(False, description="stride-2 convs instead of conv + blur-pool downsampling (G and D)")
    no_antialias_up: bool = Field(False, description="transposed convs instead of blur upsampling + conv in G")
    gan_mode: Literal["lsgan", "vanilla", "wgangp", "nonsaturating"] = Field("lsgan", description="adversarial loss")
    lambda_GAN: float = Field(1.0, ge=0, description="weight of the generator's GAN loss")
    lambda_NCE: float = Field(1.0, gt=0, description="weight of the PatchNCE loss (FastCUT: 10)")
    nce_idt: bool = Field(True, description="also NCE_Y on (real_B, G(real_B)), the identity term (FastCUT: off)")
    nce_layers: list[int] = Field([0, 4, 8, 12, 16], description="generator layers PatchNCE compares (indices "
                                                                 "into G.model, strictly increasing)")
    nce_includes_all_negatives_from_minibatch: bool = Field(
        False, description="negatives from every image of the batch, not only the query's own (single-image use)")
    netF: Literal["mlp_sample", "sample"] = Field("mlp_sample", description="mlp_sample: a 2-layer MLP per layer "
                                                                           "on the sampled patches; sample: none")
    netF_nc: int = Field(256, gt=0, description="width of netF's MLPs")
    nce_T: float = Field(0.07, gt=0, description="temperature of PatchNCE")
    num_patches: int = Field(256, gt=0, description="patch positions sampled per layer (all when a layer has fewer)")
    flip_equivariance: bool = Field(False, description="flip G's whole input along W at random and the query "
                                                       "features back (FastCUT: on)")

    @field_validator("nce_layers", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """Accept the reference's spelling ``"0,4,8,12,16"`` too."""
        if isinstance(value, str):
            try:
                return [int(part) for part in value.split(",") if part.strip()]
            except ValueError:
                raise ValueError(f"{value!r} is not a comma-separated list of layer indices") from None
        return value


def _check_model(model: dict[str, Any]) -> None:
    """Cross-field checks of the model section alone (also run by :meth:`CUTRecipe.build`)."""
    if model["nce_idt"] and model["input_nc"] != model["output_nc"]:
        raise ConfigError(f"model.nce_idt is on but model.input_nc ({model['input_nc']}) != model.output_nc "
                          f"({model['output_nc']}): NCE_Y feeds B images to G; set model.nce_idt=false")
    depth = generator_depth(GENERATORS[model["netG"]], model["no_antialias"], model["no_antialias_up"])
    try:
        check_layers(model["nce_layers"], depth)
    except ValueError:
        raise ConfigError(f"model.nce_layers {model['nce_layers']}: expected strictly increasing indices from 0 to "
                          f"{depth - 1} (model.netG={model['netG']!r} with these antialias options has {depth} "
                          f"layers)") from None


class CUTRecipe(Recipe[CUTConfig]):
    """CUT / FastCUT: ``G: A -> B`` trained with a PatchGAN and patchwise contrastive losses.

    Networks: ``G``, ``D``, ``F`` (an inference build, ``ctx.training`` false, has ``G`` only).
    Optimizers: ``G``, ``D`` and ``F`` (with ``netF=mlp_sample``), all the configured Adam.

    Attributes:
        draws: the source of the flip decisions and patch ids (:class:`~i2i_cut.draws.NumpyDraws`
            by default; the recipe calls it in the reference's order).

    Example:
        ``i2i run cut --preset demo`` trains it on synthetic unpaired scenes.
    """

    name = "cut"
    Config = CUTConfig
    config: CUTConfig
    defaults = {"data": {"dataset": "unaligned"}}

    def __init__(self, config: CUTConfig | None = None) -> None:
        super().__init__(config)
        self.draws: Draws = NumpyDraws()
        self.criterion_gan: CUTGANLoss | None = None
        self.criterion_nce: PatchNCELoss | None = None

    # --- configuration -------------------------------------------------------------------
    @classmethod
    def validate_run(cls, run: RunConfig) -> None:
        model = run.model if isinstance(run.model, dict) else run.model.model_dump()
        _check_model(model)
        data = run.data
        multiple = 2**N_RESAMPLINGS
        if data.preprocess in _CROPPING and data.crop_size % multiple:
            raise ConfigError(f"data.crop_size {data.crop_size} does not suit the ResNet generator: expected a "
                              f"multiple of {multiple} (e.g. {max(multiple, data.crop_size // multiple * multiple)})")

    def generator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~i2i_cut.networks.cut_resnet_generator` for this config."""
        c = self.config
        return {"input_nc": c.input_nc, "output_nc": c.output_nc, "ngf": c.ngf, "norm": c.normG,
                "use_dropout": not c.no_dropout, "n_blocks": GENERATORS[c.netG], "no_antialias": c.no_antialias,
                "no_antialias_up": c.no_antialias_up, "init_type": c.init_type, "init_gain": c.init_gain}

    def discriminator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~i2i_cut.networks.cut_n_layer_discriminator` for this config."""
        c = self.config
        return {"input_nc": c.output_nc, "ndf": c.ndf, "n_layers": c.n_layers_D if c.netD == "n_layers" else 3,
                "norm": c.normD, "no_antialias": c.no_antialias, "init_type": c.init_type, "init_gain": c.init_gain}

    # --- building --------------------------------------------------------------------------
    def build(self, ctx: BuildContext) -> Modules:
        c = self.config
        _check_model(c.model_dump())
        G = cut_resnet_generator(**self.generator_kwargs())
        if not ctx.training:
            return Modules(nets={"G": G}, optimizers={})
        D = cut_n_layer_discriminator(**self.discriminator_kwargs())
        F = PatchSampleF(use_mlp=c.netF == "mlp_sample", nc=c.netF_nc)
        F.create_mlps(self.tap_channels(G), c.init_type, c.init_gain)
        nets: dict[str, torch.nn.Module] = {"G": G, "D": D, "F": F}
        optimizers = {"G": ctx.optimizer(G.parameters()), "D": ctx.optimizer(D.parameters())}
        if any(True for _ in F.parameters()):
            optimizers["F"] = ctx.optimizer(F.parameters())
        self.criterion_gan = CUTGANLoss(c.gan_mode)
        self.criterion_nce = PatchNCELoss(c.nce_T, c.nce_includes_all_negatives_from_minibatch)
        return Modules(nets=nets, optimizers=optimizers)

    def tap_channels(self, G: torch.nn.Module) -> list[int]:
        """Channels of ``G``'s ``nce_layers`` outputs, read from one forward of a blank image.

        Eval mode and no gradient: the probe leaves BatchNorm statistics (``normG=batch``) as
        they were and draws nothing from any generator.
        """
        c = self.config
        was_training = G.training
        G.eval()
        try:
            with torch.no_grad():
                device = next(G.parameters()).device
                probe = torch.zeros(1, c.input_nc, _PROBE_SIDE, _PROBE_SIDE, device=device)
                feats = G(probe, c.nce_layers)
        finally:
            G.train(was_training)
        return [int(f.shape[1]) for f in feats]

    # --- data ----------------------------------------------------------------------------
    def configure_dataset(self, dataset: Any, split: str = "train") -> Any:
        """Make an i2i reader load one-channel images for a domain whose channel count is 1."""
        return set_reader_channels(dataset, {"A": self.config.input_nc, "B": self.config.output_nc})

    # --- training ------------------------------------------------------------------------
    def training_step(self, batch: dict, step: StepContext) -> dict[str, torch.Tensor | float]:
        c = self.config
        if self.criterion_gan is None or self.criterion_nce is None:
            raise ConfigError("the cut recipe was built for inference (ctx.training false); it cannot train")
        check_channels(batch["A"], c, "input_nc", "the batch's 'A'")
        check_channels(batch["B"], c, "output_nc", "the batch's 'B'")
        real_A, real_B = batch["A"], batch["B"]
        G, D, F = self.nets["G"], self.nets["D"], self.nets["F"]
        opt_G, opt_D = self.optimizers["G"], self.optimizers["D"]
        opt_F = self.optimizers.get("F")
        gan = self.criterion_gan
        n = real_A.shape[0]
        if c.nce_idt and real_A.shape[2:] != real_B.shape[2:]:
            raise ConfigError(f"model.nce_idt runs G on cat(A, B), which needs images of one size; this batch has A "
                              f"{tuple(real_A.shape[2:])} and B {tuple(real_B.shape[2:])}: use a cropping "
                              f"data.preprocess or set model.nce_idt=false")

        # forward, as the reference's forward(): one G pass over A (and B for the identity term)
        real = torch.cat((real_A, real_B), dim=0) if c.nce_idt else real_A
        flipped = c.flip_equivariance and self.draws.flip()
        if flipped:
            real = torch.flip(real, [3])
        fake = G(real)
        fake_B = fake[:n]
        idt_B = fake[n:] if c.nce_idt else None

        # D first, on the detached fake
        step.requires_grad(D, True)
        step.zero_grad(opt_D)
        loss_D_fake = gan(D(fake_B.detach()), False).mean()
        loss_D_real = gan(D(real_B), True).mean()
        loss_D = (loss_D_fake + loss_D_real) * 0.5
        step.backward(loss_D)
        step.optimizer_step(opt_D)

        # then G and F together, judged by the updated D
        step.requires_grad(D, False)
        step.zero_grad(opt_G, *([opt_F] if opt_F is not None else []))
        zero = torch.zeros((), device=real_A.device)
        loss_G_GAN = gan(D(fake_B), True).mean() * c.lambda_GAN if c.lambda_GAN > 0 else zero
        loss_NCE = self.nce_loss(real_A, fake_B, call=0, flipped=flipped, step=step)
        logs: dict[str, Any] = {"G_GAN": loss_G_GAN, "D_real": loss_D_real, "D_fake": loss_D_fake}
        if idt_B is not None:
            loss_NCE_Y = self.nce_loss(real_B, idt_B, call=1, flipped=flipped, step=step)
            loss_G = loss_G_GAN + (loss_NCE + loss_NCE_Y) * 0.5
        else:
            loss_G = loss_G_GAN + loss_NCE
        trained = [G] + ([F] if opt_F is not None else [])
        step.backward(loss_G, inputs=[p for net in trained for p in net.parameters()])
        step.optimizer_step(opt_G)
        if opt_F is not None:
            step.optimizer_step(opt_F)
        step.requires_grad(D, True)  # trainable again between steps (what distributed wrappers expect)

        logs.update({"G": loss_G, "NCE": loss_NCE})
        if idt_B is not None:
            logs["NCE_Y"] = loss_NCE_Y
        logs["D"] = loss_D
        return detach_losses(logs)

    def nce_loss(self, src: torch.Tensor, tgt: torch.Tensor, call: int, flipped: bool,
                 step: StepContext | None = None) -> torch.Tensor:
        """``lambda_NCE`` x PatchNCE between ``G``'s taps of ``tgt`` (queries) and ``src`` (keys),
        averaged over patches and then over layers.

        The key branch runs without a graph: PatchNCE detaches the keys, so nothing of it would
        receive a gradient (the values are the same). Under mixed precision the similarities
        are computed in float32 (``step.full_precision``): divided by a temperature of 0.07,
        bf16's 8 bits of mantissa would blur the logits.
        """
        c = self.config
        assert self.criterion_nce is not None
        G, F = self.nets["G"], self.nets["F"]
        feat_q = G(tgt, c.nce_layers)
        if flipped:
            feat_q = [torch.flip(f, [3]) for f in feat_q]
        with torch.no_grad():
            feat_k = G(src, c.nce_layers)
        ids = self._patch_ids(call, feat_k)
        with torch.no_grad():
            pooled_k = F(feat_k, ids)
        pooled_q = F(feat_q, ids)
        n = src.shape[0]
        with step.full_precision() if step is not None else contextlib.nullcontext():
            per_layer = [(self.criterion_nce(q.float(), k.float(), n) * c.lambda_NCE).mean()
                         for q, k in zip(pooled_q, pooled_k, strict=True)]
        total = per_layer[0]
        for loss in per_layer[1:]:  # in layer order, as the reference accumulates them
            total = total + loss
        return total / len(c.nce_layers)

    def _patch_ids(self, call: int, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """One id set per tapped layer from :attr:`draws`, moved to the features' device in one copy."""
        c = self.config
        ids = []
        for layer, feat in enumerate(feats):
            positions = int(feat.shape[2] * feat.shape[3])
            ids.append(self.draws.patch_ids(call, layer, positions, min(c.num_patches, positions)))
        device = feats[0].device
        if device.type == "cpu":
            return ids
        # pinned + non_blocking: the host does not wait for the queued GPU work to reach this copy
        flat = torch.cat(ids).pin_memory().to(device, non_blocking=True)
        return list(flat.split([len(i) for i in ids]))

    # --- inference -------------------------------------------------------------------------
    def inference_spec(self) -> InferenceSpec:
        """An image of ``input_nc`` channels in, ``output_nc`` out, sides multiples of 4."""
        c = self.config
        return InferenceSpec(input_channels=c.input_nc, output_channels=c.output_nc, size_multiple=2**N_RESAMPLINGS)

    def translate(self, batch: dict) -> torch.Tensor:
        """``G(batch["A"])`` without gradients (the source domain is under ``A`` for either direction)."""
        x = batch["A"]
        check_channels(x, self.config, "input_nc", "the G input ('A')")
        with torch.no_grad():
            return self.nets["G"](x)

    def sample(self, batch: dict) -> dict[str, torch.Tensor]:
        """``real_A``, ``fake_B``, ``real_B`` and, with ``nce_idt``, ``idt_B`` = G(real_B)."""
        if "B" not in batch:
            return {"input": batch["A"], "output": self.translate(batch)}
        out = {"real_A": batch["A"], "fake_B": self.translate(batch), "real_B": batch["B"]}
        if self.config.nce_idt:
            with torch.no_grad():
                out["idt_B"] = self.nets["G"](batch["B"])
        return out


"""The ``cyclegan`` recipe: two generators and two discriminators with cycle consistency.

Two variants of one model (``model.variant``):

``junyanz`` (default) is ``CycleGANModel.optimize_parameters`` of
junyanz/pytorch-CycleGAN-and-pix2pix:

1. ``fake_B = G_A(A)``, ``rec_A = G_B(fake_B)``, ``fake_A = G_B(B)``, ``rec_B = G_A(fake_A)``;
2. generator step with ``D_A`` and ``D_B`` frozen, one Adam over both generators:
   ``G = G_A + G_B + cycle_A + cycle_B + idt_A + idt_B`` with ``G_A = GAN(D_A(fake_B), real)``,
   ``cycle_A = lambda_A * L1(rec_A, A)``, ``idt_A = lambda_B * lambda_identity * L1(G_A(B), B)``
   (and symmetrically for B);
3. discriminator step, one Adam over both discriminators, on the fakes of step 1 (computed
   *before* the generator update) drawn through 50-image pools:
   ``D_A = 0.5 * (GAN(D_A(B), real) + GAN(D_A(pool_B(fake_B)), fake))`` and the same for ``D_B``.

``book`` is the training loop of "Hands-On GANs with PyTorch 1.x", chapter 6, on the book's own
networks (:mod:`i2i_cyclegan.networks.book`):

1. generator step, one Adam over both generators:
   ``g_loss = (adv_AB + adv_BA)/2 + lambda_cyc * (cyc_A + cyc_B)/2 + lambda_iden * (iden_A + iden_B)/2``
   with ``adv_AB = MSE(D(G_AB(A)), 1)`` judged by the discriminator of domain B,
   ``iden_A = L1(G_BA(A), A)``; the book's ``lambda_cyc`` is ``lambda_A`` (10) and
   ``lambda_iden`` is ``lambda_A * lambda_identity`` (5) - when ``lambda_A != lambda_B`` each
   term gets its own domain's lambda;
2. the discriminator of domain A, then the one of domain B, each with its *own* Adam and
   ``(MSE(D(real), 1) + MSE(D(buffer(fake)), 0)) / 2`` through the book's ``ImageBuffer``.

Network names are the same in both variants: ``G_A`` (A -> B), ``G_B`` (B -> A), ``D_A``
(judges domain **B**, junyanz's naming) and ``D_B`` (judges domain **A**). The book names its
discriminators by the domain they judge, so the book's ``netG_AB``/``netG_BA``/``netD_A``/``netD_B``
are our ``G_A``/``G_B``/``D_B``/``D_A``; the *loss* names of the book variant keep the book's
naming (``d_loss_A`` is the loss of the discriminator that judges domain A, i.e. our ``D_B``).

Domains and ``data.direction``: ``G_A`` always maps the ``<split>A`` folder's domain to the
``<split>B`` one. The readers swap the folders for ``direction=BtoA``; the training step swaps
them back, so the networks keep their meaning and ``data.direction`` only chooses which
generator :meth:`CycleGANRecipe.translate` (and the held-out scoring) uses: ``G_A`` for
``AtoB``, ``G_B`` for ``BtoA``. (junyanz instead renames the domains for ``BtoA``; training is
symmetric, so only the names of the saved networks differ.)
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

import torch
from pydantic import Field

from i2i_core import (
    BuildContext,
    ConfigError,
    ImageBuffer,
    ImageGANConfig,
    ImageHistory,
    ImagePool,
    InferenceSpec,
    Modules,
    Recipe,
    RunConfig,
    StepContext,
    check_channels,
    detach_losses,
    set_reader_channels,
)

#: generator name -> required multiple of the image side (junyanz's registered generators)
_SIZE_MULTIPLE = {"resnet_9blocks": 4, "resnet_6blocks": 4, "unet_128": 128, "unet_256": 256}
_CROPPING = ("resize_and_crop", "crop", "scale_width_and_crop")
#: options of the junyanz networks that the book variant cannot honour (its networks are fixed)
_JUNYANZ_ONLY = ("ngf", "ndf", "netG", "netD", "n_layers_D", "norm", "init_type", "init_gain", "no_dropout",
                 "gan_mode")
#: options of the book networks that the junyanz variant ignores
_BOOK_ONLY = ("num_blocks", "width_div")
#: the book's adversarial target is a fixed (batch, 1, 30, 30) tensor: 256x256 images only
BOOK_IMAGE_SIZE = 256


class CycleGANConfig(ImageGANConfig):
    """``model.*`` options of CycleGAN (junyanz's option names and CycleGAN defaults).

    The shared options (channels, widths, ``norm``, init, ``no_dropout``, ``gan_mode``) come
    from :class:`i2i_core.ImageGANConfig`; all but the channels are the junyanz variant's only.
    """

    variant: Literal["junyanz", "book"] = Field(
        "junyanz", description="junyanz: CycleGANModel of pytorch-CycleGAN-and-pix2pix; book: the training loop "
                               "and networks of 'Hands-On GANs with PyTorch 1.x', chapter 6 (junyanz only: "
                               f"{', '.join(_JUNYANZ_ONLY)})")
    netG: str = Field("resnet_9blocks", description="junyanz: generator (resnet_9blocks, resnet_6blocks, unet_256, "
                                                    "unet_128)")
    netD: str = Field("basic", description="junyanz: discriminator (basic = 70x70 PatchGAN, n_layers, pixel)")
    n_layers_D: int = Field(3, ge=1, description="junyanz: strided layers of the discriminator when netD=n_layers")
    no_dropout: bool = Field(True, description="junyanz: no dropout in the generators (CycleGAN's default)")
    lambda_A: float = Field(10.0, ge=0, description="weight of the cycle loss A -> B -> A")
    lambda_B: float = Field(10.0, ge=0, description="weight of the cycle loss B -> A -> B")
    lambda_identity: float = Field(
        0.5, ge=0, description="identity loss weight relative to the cycle weights (0 = off); needs input_nc == "
                               "output_nc")
    pool_size: int = Field(50, ge=0, description="generated images (book: batches) kept for the discriminators; "
                                                 "0 = none")
    num_blocks: int = Field(9, ge=0, description="book: residual blocks of the book's generator")
    width_div: int = Field(1, ge=1, description="book: divide the book's hard-coded widths 64/128/256/512 by this")


def _check_model(model: dict[str, Any]) -> None:
    """Cross-field checks of the model section alone (also run by :meth:`CycleGANRecipe.build`)."""
    defaults = CycleGANConfig()
    if model["lambda_identity"] > 0 and model["input_nc"] != model["output_nc"]:
        raise ConfigError(
            f"model.lambda_identity is {model['lambda_identity']} but model.input_nc ({model['input_nc']}) != "
            f"model.output_nc ({model['output_nc']}): the identity loss feeds B images to G_A, so it needs equal "
            f"channel counts; set model.lambda_identity=0")
    if model["variant"] == "book":
        if model["input_nc"] != model["output_nc"]:
            raise ConfigError(f"model.variant='book' has one channel count for both domains; model.input_nc "
                              f"({model['input_nc']}) must equal model.output_nc ({model['output_nc']})")
        for name in _JUNYANZ_ONLY:
            if model[name] != getattr(defaults, name):
                raise ConfigError(
                    f"model.{name}={model[name]!r} does not apply to model.variant='book' (the book's networks and "
                    f"MSE loss are fixed; size them with model.num_blocks and model.width_div)")
        if 64 % model["width_div"]:
            raise ConfigError(f"model.width_div {model['width_div']} must divide 64 (the book's widths "
                              f"64/128/256/512 are divided by it)")
    else:
        for name in _BOOK_ONLY:
            if model[name] != getattr(defaults, name):
                raise ConfigError(f"model.{name}={model[name]!r} only applies to model.variant='book' "
                                  f"(the junyanz networks take model.netG, model.ngf and model.ndf)")


class CycleGANRecipe(Recipe[CycleGANConfig]):
    """CycleGAN: ``G_A: A -> B`` and ``G_B: B -> A`` trained with two PatchGANs and cycle losses.

    Networks: ``G_A``, ``G_B``, ``D_A`` (judges B) and ``D_B`` (judges A); an inference build
    (``ctx.training`` false) has no optimizers, losses or pools. Optimizers: junyanz ``G`` (both
    generators) and ``D`` (both discriminators); book ``G``, ``D_A`` and ``D_B`` (one per
    discriminator, named after our networks). Extra training state (:meth:`state_dict`): the two
    image histories (:mod:`i2i_core.recipe.image_pool`).

    Example:
        ``i2i run cyclegan --preset demo`` trains it on synthetic unpaired scenes.
    """

    name = "cyclegan"
    Config = CycleGANConfig
    defaults = {"data": {"dataset": "unaligned"}}

    def __init__(self, config: CycleGANConfig | None = None) -> None:
        super().__init__(config)
        self.direction = "AtoB"
        # fake_A_pool feeds the discriminator of domain A (D_B), fake_B_pool the one of B (D_A)
        self.fake_A_pool: ImageHistory | None = None
        self.fake_B_pool: ImageHistory | None = None

    # --- configuration -------------------------------------------------------------------
    @classmethod
    def validate_run(cls, run: RunConfig) -> None:
        model = run.model if isinstance(run.model, dict) else run.model.model_dump()
        _check_model(model)
        data = run.data
        if model["variant"] == "book":
            if data.preprocess not in _CROPPING or data.crop_size != BOOK_IMAGE_SIZE:
                raise ConfigError(
                    f"model.variant='book' needs {BOOK_IMAGE_SIZE}x{BOOK_IMAGE_SIZE} images (its adversarial target "
                    f"is a fixed 30x30 map): set data.crop_size={BOOK_IMAGE_SIZE} with a cropping data.preprocess "
                    f"(got crop_size {data.crop_size}, preprocess {data.preprocess!r})")
            return
        netG = model["netG"]
        multiple = _SIZE_MULTIPLE.get(netG)
        if multiple and data.preprocess in _CROPPING and data.crop_size % multiple:
            raise ConfigError(f"data.crop_size {data.crop_size} does not suit model.netG={netG!r}: expected a "
                              f"multiple of {multiple} (e.g. {max(multiple, data.crop_size // multiple * multiple)})")

    def generator_kwargs(self, input_nc: int, output_nc: int) -> dict[str, Any]:
        """Keyword arguments of the registered junyanz generator builder."""
        c = self.config
        return {"input_nc": input_nc, "output_nc": output_nc, "ngf": c.ngf, "norm": c.norm,
                "use_dropout": not c.no_dropout, "init_type": c.init_type, "init_gain": c.init_gain}

    def discriminator_kwargs(self, input_nc: int) -> dict[str, Any]:
        """Keyword arguments of the registered junyanz discriminator builder."""
        c = self.config
        kw: dict[str, Any] = {"input_nc": input_nc, "ndf": c.ndf, "norm": c.norm, "init_type": c.init_type,
                              "init_gain": c.init_gain}
        if c.netD == "n_layers":
            kw["n_layers"] = c.n_layers_D
        return kw

    # --- building --------------------------------------------------------------------------
    def build(self, ctx: BuildContext) -> Modules:
        c = self.config
        _check_model(c.model_dump())
        self.direction = ctx.data.direction
        # construction order = the reference's, so one seed gives the reference's initial weights
        if c.variant == "book":
            book_G = {"channels": c.input_nc, "num_blocks": c.num_blocks, "width_div": c.width_div}
            G_A = ctx.architecture("book_generator", **book_G)
            G_B = ctx.architecture("book_generator", **book_G)
        else:
            G_A = ctx.architecture(c.netG, **self.generator_kwargs(c.input_nc, c.output_nc))
            G_B = ctx.architecture(c.netG, **self.generator_kwargs(c.output_nc, c.input_nc))
        # the discriminators are built for inference too: an imported or trained checkpoint
        # carries them, and `i2i import-checkpoint` stores them for later fine-tuning
        if c.variant == "book":
            book_D = {"channels": c.input_nc, "width_div": c.width_div}
            D_B = ctx.architecture("book_discriminator", **book_D)  # the book's netD_A (judges A) comes first
            D_A = ctx.architecture("book_discriminator", **book_D)
        else:
            D_A = ctx.architecture(c.netD, **self.discriminator_kwargs(c.output_nc))
            D_B = ctx.architecture(c.netD, **self.discriminator_kwargs(c.input_nc))
        nets = {"G_A": G_A, "G_B": G_B, "D_A": D_A, "D_B": D_B}
        if not ctx.training:
            return Modules(nets=nets, optimizers={})
        seed = ctx.trainer.seed
        gens = itertools.chain(G_A.parameters(), G_B.parameters())
        if c.variant == "book":
            self.criterion_gan = ctx.loss("gan", gan_mode="lsgan")  # the book's MSELoss against ones/zeros
            optimizers = {"G": ctx.optimizer(gens), "D_A": ctx.optimizer(D_A.parameters()),
                          "D_B": ctx.optimizer(D_B.parameters())}
            history: type[ImageHistory] = ImageBuffer
        else:
            self.criterion_gan = ctx.loss("gan", gan_mode=c.gan_mode)
            optimizers = {"G": ctx.optimizer(gens),
                          "D": ctx.optimizer(itertools.chain(D_A.parameters(), D_B.parameters()))}
            history = ImagePool
        # private, seeded generators: the draws depend on trainer.seed and the pool's history only
        self.fake_A_pool, self.fake_B_pool = history(c.pool_size, seed * 2 + 1), history(c.pool_size, seed * 2 + 2)
        self.criterion_l1 = ctx.loss("l1")
        return Modules(nets=nets, optimizers=optimizers)

    # --- data ----------------------------------------------------------------------------
    def _source_target_nc(self) -> tuple[int, int]:
        """Channels of the reader's ``A`` and ``B`` images for the run's direction."""
        c = self.config
        return (c.input_nc, c.output_nc) if self.direction == "AtoB" else (c.output_nc, c.input_nc)

    def configure_dataset(self, dataset: Any, split: str = "train") -> Any:
        """Make an i2i reader load one-channel images for a domain whose channel count is 1."""
        nc_a, nc_b = self._source_target_nc()
        return set_reader_channels(dataset, {"A": nc_a, "B": nc_b})

    def _domains(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """``(real_A, real_B)`` by domain: undo the readers' swap for ``direction=BtoA``."""
        if self.direction == "BtoA":
            return batch["B"], batch["A"]
        return batch["A"], batch["B"]

    # --- training ------------------------------------------------------------------------
    def training_step(self, batch: dict, step: StepContext) -> dict[str, torch.Tensor | float]:
        real_A, real_B = self._domains(batch)
        check_channels(real_A, self.config, "input_nc", "the domain A")
        check_channels(real_B, self.config, "output_nc", "the domain B")
        if self.config.variant == "book":
            logs = self._book_step(real_A, real_B, step)
        else:
            logs = self._junyanz_step(real_A, real_B, step)
        return detach_losses(logs)

    def _junyanz_step(self, real_A: torch.Tensor, real_B: torch.Tensor, step: StepContext) -> dict[str, Any]:
        c = self.config
        G_A, G_B, D_A, D_B = (self.nets[k] for k in ("G_A", "G_B", "D_A", "D_B"))
        opt_G, opt_D = self.optimizers["G"], self.optimizers["D"]
        gan, l1 = self.criterion_gan, self.criterion_l1

        fake_B = G_A(real_A)
        rec_A = G_B(fake_B)
        fake_A = G_B(real_B)
        rec_B = G_A(fake_A)

        # generators, discriminators frozen (they still run in train mode)
        step.requires_grad([D_A, D_B], False)
        step.zero_grad(opt_G)
        if c.lambda_identity > 0:
            loss_idt_A = l1(G_A(real_B), real_B) * c.lambda_B * c.lambda_identity
            loss_idt_B = l1(G_B(real_A), real_A) * c.lambda_A * c.lambda_identity
        else:
            loss_idt_A = loss_idt_B = torch.zeros((), device=real_A.device)
        loss_G_A = gan(D_A(fake_B), True, for_discriminator=False)
        loss_G_B = gan(D_B(fake_A), True, for_discriminator=False)
        loss_cycle_A = l1(rec_A, real_A) * c.lambda_A
        loss_cycle_B = l1(rec_B, real_B) * c.lambda_B
        loss_G = loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
        step.backward(loss_G)
        step.optimizer_step(opt_G)

        # discriminators, on the pre-update fakes through the pools
        step.requires_grad([D_A, D_B], True)
        step.zero_grad(opt_D)
        fake_A_pool, fake_B_pool = self._pools()
        loss_D_A = self._junyanz_d_loss(D_A, real_B, fake_B_pool.query(fake_B.detach()))
        step.backward(loss_D_A)
        loss_D_B = self._junyanz_d_loss(D_B, real_A, fake_A_pool.query(fake_A.detach()))
        step.backward(loss_D_B)
        step.optimizer_step(opt_D)

        return {"G_A": loss_G_A, "G_B": loss_G_B, "cycle_A": loss_cycle_A, "cycle_B": loss_cycle_B,
                "idt_A": loss_idt_A, "idt_B": loss_idt_B, "G": loss_G, "D_A": loss_D_A, "D_B": loss_D_B}

    def _pools(self) -> tuple[ImageHistory, ImageHistory]:
        """The fake-image pools ``(A, B)`` the discriminator steps draw from (built for training only)."""
        if self.fake_A_pool is None or self.fake_B_pool is None:
            raise RuntimeError(f"recipe {self.name!r}: training_step needs the image pools; "
                               "call setup(ctx) with ctx.training=True first")
        return self.fake_A_pool, self.fake_B_pool

    def _junyanz_d_loss(self, netD: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        loss_real = self.criterion_gan(netD(real), True)
        loss_fake = self.criterion_gan(netD(fake.detach()), False)
        return (loss_real + loss_fake) * 0.5

    def _book_step(self, real_A: torch.Tensor, real_B: torch.Tensor, step: StepContext) -> dict[str, Any]:
        c = self.config
        G_A, G_B, D_A, D_B = (self.nets[k] for k in ("G_A", "G_B", "D_A", "D_B"))
        mse, l1 = self.criterion_gan, self.criterion_l1

        # generators. The book leaves the discriminators trainable here and zeroes their stray
        # gradients before their own steps; freezing them gives the same updates without the work.
        step.requires_grad([D_A, D_B], False)
        step.zero_grad(self.optimizers["G"])
        fake_B = G_A(real_A)
        adv_AB = mse(D_A(fake_B), True)  # D_A judges domain B (the book's netD_B)
        fake_A = G_B(real_B)
        adv_BA = mse(D_B(fake_A), True)
        rec_A = G_B(fake_B)
        cyc_A = l1(rec_A, real_A)
        rec_B = G_A(fake_A)
        cyc_B = l1(rec_B, real_B)
        adv = (adv_AB + adv_BA) / 2
        if c.lambda_identity > 0:
            iden_A = l1(G_B(real_A), real_A)
            iden_B = l1(G_A(real_B), real_B)
        else:
            iden_A = iden_B = torch.zeros((), device=real_A.device)
        if c.lambda_A == c.lambda_B:  # the book's expression with one lambda_cyc and one lambda_iden
            g_loss = adv + c.lambda_A * ((cyc_A + cyc_B) / 2) + (c.lambda_A * c.lambda_identity) * ((iden_A + iden_B) / 2)
        else:
            g_loss = (adv + (c.lambda_A * cyc_A + c.lambda_B * cyc_B) / 2
                      + c.lambda_identity * (c.lambda_A * iden_A + c.lambda_B * iden_B) / 2)
        step.backward(g_loss)
        step.optimizer_step(self.optimizers["G"])
        step.requires_grad([D_A, D_B], True)

        # the book's D_A (domain A) = our D_B first, then the book's D_B = our D_A
        logs: dict[str, Any] = {"adv_AB": adv_AB, "adv_BA": adv_BA, "cyc_A": cyc_A, "cyc_B": cyc_B,
                                "iden_A": iden_A, "iden_B": iden_B, "g_loss": g_loss}
        fake_A_pool, fake_B_pool = self._pools()
        for book_name, ours, real, fake, pool in (("A", "D_B", real_A, fake_A, fake_A_pool),
                                                  ("B", "D_A", real_B, fake_B, fake_B_pool)):
            netD, opt = self.nets[ours], self.optimizers[ours]
            step.zero_grad(opt)
            loss_real = mse(netD(real), True)
            loss_fake = mse(netD(pool.query(fake.detach())), False)
            d_loss = (loss_real + loss_fake) / 2
            step.backward(d_loss)
            step.optimizer_step(opt)
            logs.update({f"D_{book_name}_real": loss_real, f"D_{book_name}_fake": loss_fake,
                         f"d_loss_{book_name}": d_loss})

        return logs

    # --- extra state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The two image histories (stored images and RNG states; tensors and lists only)."""
        out: dict[str, Any] = {}
        if self.fake_A_pool is not None and self.fake_B_pool is not None:
            out = {"fake_A_pool": self.fake_A_pool.state_dict(), "fake_B_pool": self.fake_B_pool.state_dict()}
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("fake_A_pool", "fake_B_pool"):
            pool = getattr(self, key)
            if pool is not None and key in state:
                pool.load_state_dict(state[key])

    # --- inference -------------------------------------------------------------------------
    def inference_nets(self) -> list[str]:
        """``G_A`` for ``data.direction=AtoB``, ``G_B`` for ``BtoA`` (a zoo file holds one of them)."""
        return ["G_A"] if self.direction == "AtoB" else ["G_B"]

    def inference_spec(self) -> InferenceSpec:
        """The source domain's channels in, the target domain's out (``data.direction`` picks them)."""
        source, target = self._source_target_nc()
        return InferenceSpec(input_channels=source, output_channels=target)

    def translate(self, batch: dict) -> torch.Tensor:
        """``G_A(batch["A"])`` for ``data.direction=AtoB``, ``G_B(batch["A"])`` for ``BtoA``.

        The readers put the source domain of the direction under ``A``. The generator runs in
        its current mode without gradients; with the default instance norm and no dropout the
        mode does not change the result.
        """
        x = batch["A"]
        name = self.inference_nets()[0]
        check_channels(x, self.config, "input_nc" if name == "G_A" else "output_nc", f"the {name} input ('A')")
        with torch.no_grad():
            return self.nets[name](x)

    def sample(self, batch: dict) -> dict[str, torch.Tensor]:
        """``real_A``, ``fake_B``, ``rec_A``, ``real_B``, ``fake_A``, ``rec_B`` (by domain)."""
        if "B" not in batch:
            return {"input": batch["A"], "output": self.translate(batch)}
        real_A, real_B = self._domains(batch)
        G_A, G_B = self.nets["G_A"], self.nets["G_B"]
        with torch.no_grad():
            fake_B = G_A(real_A)
            fake_A = G_B(real_B)
            return {"real_A": real_A, "fake_B": fake_B, "rec_A": G_B(fake_B),
                    "real_B": real_B, "fake_A": fake_A, "rec_B": G_A(fake_A)}

    def evaluation_pairs(self, batch: dict) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """Both directions, each scored against the other domain: ``{"AtoB": (G_A(A), B, A), "BtoA": (G_B(B), A, B)}``.

        The held-out ``<split>A``/``<split>B`` are paired by index (the synthetic set renders each
        scene in both styles); FID/KID compare each output with the real images of its target domain.
        The input is the identity baseline where shapes agree.
        """
        real_A, real_B = self._domains(batch)
        with torch.no_grad():
            fake_B, fake_A = self.nets["G_A"](real_A), self.nets["G_B"](real_B)

        def ident(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
            return x if x.shape == y.shape else None

        return {"AtoB": (fake_B, real_B, ident(real_A, real_B)), "BtoA": (fake_A, real_A, ident(real_B, real_A))}

    def evaluation_pair(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(translate(A), B, A)``: held-out ``<split>A``/``<split>B`` are paired by index.

        For direction ``AtoB`` that is ``G_A(A)`` against the B image of the same index (the
        synthetic held-out set shows the same scene in both domains); the input itself is the
        identity baseline when the shapes agree.
        """
        pred = self.translate(batch)
        ident = batch["A"] if batch["A"].shape == batch["B"].shape else None
        return pred, batch["B"], ident

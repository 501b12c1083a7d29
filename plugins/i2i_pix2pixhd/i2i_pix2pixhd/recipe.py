"""The ``pix2pixhd`` recipe: label maps (+ instance maps) to photos, as NVIDIA's pix2pixHD trains them.

One iteration (``train.py`` + ``Pix2PixHDModel.forward``):

1. ``input_label`` = [one-hot(label), edge(inst)]; with ``instance_feat`` the encoder
   E encodes the real image, pooled per instance, and its features are appended;
2. one generator forward ``fake = G(input)``;
3. D on ``[input_label, fake.detach()]`` through the image pool -> ``D_fake``;
   D on ``[input_label, real]`` -> ``D_real``; D on ``[input_label, fake]`` -> ``G_GAN``
   and the feature-matching term ``G_GAN_Feat``; optional VGG term ``G_VGG``;
4. G step (G and E), then D step with ``0.5 (D_fake + D_real)`` - the D loss graph
   is the one from before the G update, and D is never frozen (its stray gradients
   from the G loss are cleared before its own backward).

``niter_fix_global`` (netG ``local``): for that many epochs only the parameters of the
finest enhancer (``model<n_local_enhancers>*``) train; then ``on_epoch_start`` swaps in
a fresh optimizer over all of G (and E), like pix2pixHD's ``update_fixed_params``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field

from i2i_core import (
    BuildContext,
    ConfigError,
    DataError,
    ExportGraph,
    ImagePool,
    Inference,
    InferenceSpec,
    Modules,
    Recipe,
    RecipeConfig,
    RunConfig,
    StepContext,
    detach_losses,
)

from .inputs import _path_of, colorize_labels, encode_input

CLUSTERS_FILE = "features_clustered.pt"


class Pix2PixHDConfig(RecipeConfig):
    """``model.*`` options, with pix2pixHD's option names and defaults."""

    netG: Literal["global", "local"] = Field("global", description="global (512p) or local (coarse-to-fine, 1024p+)")
    ngf: int = Field(64, gt=0, description="generator width (local: width of the finest enhancer)")
    n_downsample_global: int = Field(4, ge=0, description="downsamplings of the global generator")
    n_blocks_global: int = Field(9, ge=0, description="residual blocks of the global generator")
    n_local_enhancers: int = Field(1, ge=1, description="local enhancers (netG local)")
    n_blocks_local: int = Field(3, ge=0, description="residual blocks per local enhancer")
    norm: Literal["instance", "batch"] = Field("instance", description="instance or batch normalisation")
    label_nc: int = Field(35, ge=0, description="label classes; 0: the label is an image with input_nc channels")
    input_nc: int = Field(3, gt=0, description="label image channels when label_nc is 0")
    output_nc: int = Field(3, gt=0, description="output image channels")
    no_instance: bool = Field(False, description="do not add the instance edge map to the input")
    instance_feat: bool = Field(False, description="add encoded per-instance features to the input (train E)")
    label_feat: bool = Field(False, description="add encoded per-label features to the input (train E)")
    feat_num: int = Field(3, gt=0, description="feature channels of the encoder")
    nef: int = Field(16, gt=0, description="encoder width")
    n_downsample_E: int = Field(4, ge=0, description="encoder downsamplings")
    num_D: int = Field(2, ge=1, description="discriminator scales")
    n_layers_D: int = Field(3, ge=1, description="stride-2 layers per discriminator")
    ndf: int = Field(64, gt=0, description="discriminator width")
    no_lsgan: bool = Field(False, description="BCE instead of least-squares GAN loss")
    pool_size: int = Field(0, ge=0, description="fake image history for D (0: off)")
    lambda_feat: float = Field(10.0, ge=0, description="weight of the feature-matching and VGG losses")
    no_ganFeat_loss: bool = Field(False, description="no discriminator feature-matching loss")
    no_vgg_loss: bool = Field(False, description="no VGG19 perceptual loss")
    vgg_weights: str | None = Field(
        None, description="torchvision's vgg19-dcbb9e9d.pth (default $TORCH_HOME/hub/checkpoints/)")
    niter_fix_global: int = Field(0, ge=0, description="epochs training only the finest local enhancer")
    n_clusters: int = Field(10, gt=0, description="k-means clusters per class for feature sampling")
    feat_cluster: int | Literal["sample"] = Field(
        "sample", description="inference with features: cluster index per class, or 'sample' at random")
    use_encoded_image: bool = Field(False, description="inference with features: encode the batch's image instead")
    cluster_path: str | None = Field(
        None, description="features_clustered.pt to sample from (default: the run folder's)")


def size_multiple(cfg: Pix2PixHDConfig | dict) -> int:
    """The multiple image sides must be for the configured networks."""
    c = cfg if isinstance(cfg, dict) else cfg.model_dump()
    base = 2 ** c["n_downsample_global"]
    if c["netG"] == "local":
        base *= 2 ** c["n_local_enhancers"]
    if c["instance_feat"] or c["label_feat"]:
        base = math.lcm(base, 2 ** c["n_downsample_E"])
    return base


class Pix2PixHDRecipe(Recipe[Pix2PixHDConfig]):
    """pix2pixHD (Wang et al. 2018): multi-scale GAN with feature matching for semantic label maps."""

    name: ClassVar[str] = "pix2pixhd"
    Config: ClassVar[type[Pix2PixHDConfig]] = Pix2PixHDConfig
    defaults: ClassVar[dict[str, Any]] = {
        "data": {"dataset": "labels", "preprocess": "scale_width", "load_size": 1024, "crop_size": 512},
        # niter/niter_decay = n_epochs/n_epochs_decay; pix2pixHD decays to exactly zero
        "trainer": {"lr_policy": "linear_to_zero", "n_epochs": 100, "n_epochs_decay": 100,
                    "lr": 2e-4, "beta1": 0.5, "beta2": 0.999},
    }
    # i2i translate reads label maps (+ instance maps) from a labels-layout folder: test_label/, test_inst/
    inference: ClassVar[Inference] = Inference(reader="labels", folder="test_label", input="label")

    def __init__(self, config: Pix2PixHDConfig | None = None) -> None:
        super().__init__(config)
        self.config: Pix2PixHDConfig
        self.pool: ImagePool | None = None  # built with the training modules, seeded from trainer.seed
        self.criterion_gan: torch.nn.Module | None = None
        self.criterion_feat: torch.nn.Module | None = None
        self.criterion_vgg: torch.nn.Module | None = None
        self.feature_clusters: dict[int, torch.Tensor] | None = None
        self.run_dir: Path | None = None  # set by whoever loads a run (clusters are looked up there)
        self._ctx: BuildContext | None = None
        self._global_fixed = False

    # --- shapes ------------------------------------------------------------------
    @property
    def use_features(self) -> bool:
        return self.config.instance_feat or self.config.label_feat

    @property
    def label_channels(self) -> int:
        """Channels of ``input_label``: one-hot (or the label image) plus the edge map."""
        c = self.config
        return (c.label_nc if c.label_nc != 0 else c.input_nc) + (0 if c.no_instance else 1)

    # --- checks ------------------------------------------------------------------
    @classmethod
    def validate_run(cls, run: RunConfig) -> None:
        """Sizes against the generator's downsampling, staged presets, option combinations."""
        from .presets import STAGED_FROM

        m = run.model
        base = size_multiple(m)
        fields = {"resize_and_crop": "crop_size", "crop": "crop_size", "scale_width_and_crop": "crop_size",
                  "scale_width": "load_size"}
        field = fields.get(run.data.preprocess)
        if field is not None and getattr(run.data, field) % base:
            net = (f"netG local with n_downsample_global {m['n_downsample_global']} + n_local_enhancers "
                   f"{m['n_local_enhancers']}" if m["netG"] == "local"
                   else f"netG global with n_downsample_global {m['n_downsample_global']}")
            raise ConfigError(f"data.{field}={getattr(run.data, field)} is not a multiple of {base} "
                              f"(needed by {net}); use a multiple of {base}")
        if m["niter_fix_global"] and m["netG"] != "local":
            raise ConfigError(f"model.niter_fix_global={m['niter_fix_global']} needs model.netG='local' "
                              "(it trains only the local enhancer first); set it to 0 for netG global")
        if m["instance_feat"] and m["no_instance"]:
            raise ConfigError("model.instance_feat=true needs instance maps: set model.no_instance=false "
                              "(or use model.label_feat=true)")
        if run.preset in STAGED_FROM and not run.trainer.init_from:
            before = STAGED_FROM[run.preset]
            raise ConfigError(
                f"preset {run.preset} starts from a trained {before} run: train `i2i run pix2pixhd --preset "
                f"{before}` first, then pass --init-from RUN (or --set trainer.init_from=RUN) with its run folder")

    # --- building ----------------------------------------------------------------
    def build(self, ctx: BuildContext) -> Modules:
        c = self.config
        self._ctx = ctx
        feat_nc = c.feat_num if self.use_features else 0
        g_kwargs: dict[str, Any] = dict(input_nc=self.label_channels + feat_nc, output_nc=c.output_nc, ngf=c.ngf,
                                        n_downsample_global=c.n_downsample_global,
                                        n_blocks_global=c.n_blocks_global, norm=c.norm)
        if c.netG == "local":
            g_kwargs.update(n_local_enhancers=c.n_local_enhancers, n_blocks_local=c.n_blocks_local)
        # construction order G, D, E as in the reference (same seed -> same initial weights)
        nets = {"G": ctx.architecture(c.netG, **g_kwargs)}
        if ctx.training:
            nets["D"] = ctx.architecture(
                "multiscale", input_nc=self.label_channels + c.output_nc, ndf=c.ndf, n_layers=c.n_layers_D,
                norm=c.norm, use_sigmoid=c.no_lsgan, num_D=c.num_D, getIntermFeat=not c.no_ganFeat_loss)
        if self.use_features:
            nets["E"] = ctx.architecture("encoder", input_nc=c.output_nc, output_nc=c.feat_num, ngf=c.nef,
                                         n_downsampling=c.n_downsample_E, norm=c.norm)
        self.nets = nets
        optimizers: dict[str, torch.optim.Optimizer] = {}
        if ctx.training:
            # by name through the registry, so a plugin may replace them (registered in plugin.py)
            self.criterion_gan = ctx.loss("pix2pixhd_gan", use_lsgan=not c.no_lsgan, from_logits=not c.no_ganFeat_loss)
            self.criterion_feat = ctx.loss("pix2pixhd_feat", num_D=c.num_D, n_layers_D=c.n_layers_D,
                                           lambda_feat=c.lambda_feat)
            if not c.no_vgg_loss:
                self.criterion_vgg = ctx.loss("vgg19", weights_path=c.vgg_weights).to(ctx.device)
            self.pool = ImagePool(c.pool_size, seed=ctx.trainer.seed * 2 + 1)
            self._global_fixed = c.netG == "local" and c.niter_fix_global > 0
            optimizers["G"] = ctx.optimizer(self.generator_parameters())
            optimizers["D"] = ctx.optimizer(nets["D"].parameters())
        return Modules(nets=nets, optimizers=optimizers)

    def trainable_generator_names(self) -> list[str]:
        """Names of G's parameters the G optimizer holds now (all, or the finest enhancer's)."""
        prefix = f"model{self.config.n_local_enhancers}"
        names = [n for n, _ in self.nets["G"].named_parameters()]
        return [n for n in names if n.startswith(prefix)] if self._global_fixed else names

    def generator_parameters(self) -> list[torch.nn.Parameter]:
        """Parameters of the G optimizer: G's trainable ones, then E's.

        While the global part is fixed its parameters also stop requiring gradients,
        which saves their backward pass without changing any update.
        """
        keep = set(self.trainable_generator_names())
        params = []
        for name, p in self.nets["G"].named_parameters():
            p.requires_grad_(name in keep)
            if name in keep:
                params.append(p)
        if "E" in self.nets:
            params += list(self.nets["E"].parameters())
        return params

    def on_epoch_start(self, epoch: int) -> None:
        """After ``niter_fix_global`` epochs, train all of G with a fresh optimizer."""
        if self._global_fixed and epoch > self.config.niter_fix_global:
            self.release_global()

    def release_global(self) -> None:
        """Swap ``optimizers["G"]`` for a fresh one over all of G (and E) at the current learning rate."""
        old = self.optimizers.get("G")
        self._global_fixed = False
        if self._ctx is None or old is None:
            return
        new = self._ctx.optimizer(self.generator_parameters())
        for group in new.param_groups:
            group["lr"] = old.param_groups[0]["lr"]
            group["initial_lr"] = old.param_groups[0].get("initial_lr", self._ctx.trainer.lr)
        self.optimizers["G"] = new

    # --- training ----------------------------------------------------------------
    def _training_parts(self) -> tuple[ImagePool, torch.nn.Module, torch.nn.Module]:
        """The image pool and the GAN and feature-matching losses (built for training only)."""
        if self.pool is None or self.criterion_gan is None or self.criterion_feat is None:
            raise RuntimeError(f"recipe {self.name!r}: training_step needs the training modules; "
                               "call setup(ctx) with ctx.training=True first")
        return self.pool, self.criterion_gan, self.criterion_feat

    def _check_size(self, image: torch.Tensor, batch: dict) -> None:
        base = size_multiple(self.config)
        h, w = image.shape[-2:]
        if h % base or w % base:
            raise DataError(f"{_path_of(batch.get('label_path'), 0)}: image size {h}x{w} is not a multiple of "
                            f"{base}, which these networks need; pick data.crop_size/load_size multiples of {base}")

    def _feature_map_ids(self, batch: dict) -> torch.Tensor:
        if self.config.label_feat:
            return batch["label"]
        inst = batch.get("inst")
        if not isinstance(inst, torch.Tensor):
            raise DataError(f"{_path_of(batch.get('label_path'), 0)}: model.instance_feat needs instance maps "
                            "but the batch has no 'inst'")
        return inst

    def training_step(self, batch: dict, step: StepContext) -> dict[str, torch.Tensor | float]:
        c = self.config
        G, D = self.nets["G"], self.nets["D"]
        opt_G, opt_D = self.optimizers["G"], self.optimizers["D"]
        real = batch["image"]
        self._check_size(real, batch)
        input_label = encode_input(batch, c.label_nc, c.no_instance)
        g_input = input_label
        if self.use_features:
            feat = self.nets["E"](real, self._feature_map_ids(batch))
            g_input = torch.cat([input_label, feat.to(input_label.dtype)], dim=1)
        fake = G(g_input)

        pool, gan, criterion_feat = self._training_parts()
        pred_fake_pool = D(pool.query(torch.cat([input_label, fake.detach().to(input_label.dtype)], dim=1)))
        loss_D_fake = gan(pred_fake_pool, False)
        pred_real = D(torch.cat([input_label, real.detach().to(input_label.dtype)], dim=1))
        loss_D_real = gan(pred_real, True)
        pred_fake = D(torch.cat([input_label, fake.to(input_label.dtype)], dim=1))
        losses = {"G_GAN": gan(pred_fake, True)}
        if not c.no_ganFeat_loss:
            losses["G_GAN_Feat"] = criterion_feat(pred_fake, pred_real)
        if self.criterion_vgg is not None:
            vgg = self.criterion_vgg
            if next(vgg.parameters()).device != fake.device:
                vgg.to(fake.device)
            losses["G_VGG"] = vgg(fake, real) * c.lambda_feat
        loss_G = _total(losses)
        loss_D = (loss_D_fake + loss_D_real) * 0.5

        # the reference lets loss_G also fill D's gradients and zeroes them before D's update;
        # backpropagating into G's (and E's) parameters only gives the same updates, and lets
        # D get its gradient from one backward per step, as DistributedDataParallel needs
        step.zero_grad(opt_G)
        step.backward(loss_G, inputs=step.parameters(opt_G))
        step.optimizer_step(opt_G)
        step.zero_grad(opt_D)
        step.backward(loss_D)
        step.optimizer_step(opt_D)

        losses.update(D_real=loss_D_real, D_fake=loss_D_fake, D=loss_D, G=loss_G)
        return detach_losses(losses)

    # --- inference ---------------------------------------------------------------
    def load_feature_clusters(self, path: str | Path | None = None) -> dict[int, torch.Tensor]:
        """Read ``features_clustered.pt`` (``model.cluster_path``, else the run folder's)."""
        from .features import load_clusters

        if path is None:
            path = self.config.cluster_path or (self.run_dir / CLUSTERS_FILE if self.run_dir else None)
        if path is None or not Path(path).is_file():
            where = f" ({path} not found)" if path is not None else ""
            raise ConfigError(f"no feature clusters for sampling{where}: run `i2i pix2pixhd encode-features RUN` "
                              "or set model.cluster_path=FILE, or model.use_encoded_image=true")
        self.feature_clusters = load_clusters(path, self.config.feat_num)
        return self.feature_clusters

    def sample_features(self, ids: torch.Tensor) -> torch.Tensor:
        """Feature map from the clusters: each instance gets a centre of its class's clusters.

        ``model.feat_cluster`` picks the cluster: an index (clipped to the class's count),
        or ``"sample"`` for a random one per instance (so one label map yields several images).
        Classes without clusters get zeros. Instance ids >= 1000 belong to class ``id // 1000``.
        """
        clusters = self.feature_clusters if self.feature_clusters is not None else self.load_feature_clusters()
        b, _, h, w = ids.shape
        feat = torch.zeros(b, self.config.feat_num, h, w, device=ids.device)
        choice = self.config.feat_cluster
        for i in range(b):
            for value in torch.unique(ids[i]).tolist():
                cls = int(value) if value < 1000 else int(value) // 1000
                centres = clusters.get(cls)
                if centres is None or len(centres) == 0:
                    continue
                k = int(torch.randint(len(centres), ())) if choice == "sample" else min(int(choice), len(centres) - 1)
                mask = ids[i, 0] == value
                feat[i][:, mask] = centres[k].to(feat.device, feat.dtype)[:, None]
        return feat

    def _has_clusters(self) -> bool:
        if self.feature_clusters is not None:
            return True
        path = self.config.cluster_path or (self.run_dir / CLUSTERS_FILE if self.run_dir else None)
        if path is not None and Path(path).is_file():
            self.load_feature_clusters(path)
            return True
        return False

    def generator_input(self, batch: dict) -> torch.Tensor:
        """The generator input for inference: labels, edges and, with features, either
        centres sampled from the clusters or (``use_encoded_image``, or no clusters yet, as
        during training) the batch image encoded by E."""
        c = self.config
        input_label = encode_input(batch, c.label_nc, c.no_instance)
        if not self.use_features:
            return input_label
        ids = self._feature_map_ids(batch)
        has_image = isinstance(batch.get("image"), torch.Tensor)
        if has_image and (c.use_encoded_image or not self._has_clusters()):
            feat = self.nets["E"](batch["image"], ids)
        else:
            feat = self.sample_features(ids)
        return torch.cat([input_label, feat.to(input_label.dtype)], dim=1)

    def translate(self, batch: dict) -> torch.Tensor:
        with torch.no_grad():
            return self.nets["G"](self.generator_input(batch))

    def inference_spec(self) -> InferenceSpec:
        """Label maps of ``label_nc`` classes (or, with ``label_nc`` 0, images of ``input_nc`` channels),
        plus an instance map unless ``no_instance``; the size multiple counts the encoder E too."""
        c = self.config
        multiple = size_multiple(c)
        if c.label_nc:
            return InferenceSpec(input_kind="label_map", classes=c.label_nc, output_channels=c.output_nc,
                                 instance_map=not c.no_instance, size_multiple=multiple)
        return InferenceSpec(input_channels=c.input_nc, output_channels=c.output_nc, instance_map=not c.no_instance,
                             size_multiple=multiple)

    def export_graph(self, spec: InferenceSpec, side: int) -> ExportGraph:
        """``G`` with the one-hot encoding and the instance edges in the graph (see :mod:`.export`)."""
        from .export import export_graph

        return export_graph(self.nets["G"], self.config, side)

    def sample(self, batch: dict) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            out = {"label": colorize_labels(batch["label"], self.config.label_nc), "output": self.translate(batch)}
        if isinstance(batch.get("image"), torch.Tensor):
            out["target"] = batch["image"]
        return out

    def evaluation_pair(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        # a label map is no image: there is no identity baseline
        return self.translate(batch), batch["image"], None

    # --- extra state -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"global_fixed": self._global_fixed}
        if self.pool is not None:
            state["pool"] = self.pool.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # also the older {"images": [...]} pool state (see i2i_core.recipe.image_pool)
        if self.pool is not None and "pool" in state:
            self.pool.load_state_dict(state["pool"])
        if self._global_fixed and state.get("global_fixed") is False:
            self.release_global()


def _total(losses: dict[str, torch.Tensor]) -> torch.Tensor:
    """``G_GAN + G_GAN_Feat + G_VGG`` in the reference's order."""
    values = iter(losses.values())
    total = next(values)  # G_GAN is always there
    for value in values:
        total = total + value
    return total

"""Run configuration: pydantic models, merging and readable validation errors.

Resolution order (later wins): the core defaults, the recipe's ``defaults``, the
preset, ``--config FILE`` (TOML or JSON), then every ``--set a.b=c``. The merged
dict is validated once, so error locations are the dotted paths the user typed.
The ``model`` section is validated by the recipe's own ``Config`` model.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from i2i_core.base.errors import ConfigError
from i2i_core.registry._registry import close_matches

Precision = Literal["fp32", "bf16", "fp16"]


class _Strict(BaseModel):
    # NaN and infinity are never meaningful settings (trainer.lr=Infinity used to train NaNs to the end)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class DataConfig(_Strict):
    """Where the images come from and how they are preprocessed (reference option names)."""

    dataset: str = Field("aligned", description="dataset reader from the datasets registry")
    root: str | None = Field(None, description="data folder (reference: --dataroot)")
    synthetic: dict[str, Any] | None = Field(
        None, description="when root is unset: parameters of the built-in synthetic data set, made in a cache folder")
    direction: Literal["AtoB", "BtoA"] = Field("AtoB", description="translate A to B or B to A")
    preprocess: Literal["resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"] = Field(
        "resize_and_crop", description="resizing/cropping at load time (reference semantics, bicubic)")
    load_size: int = Field(286, gt=0, description="scale images to this size")
    crop_size: int = Field(256, gt=0, description="then crop to this size")
    no_flip: bool = Field(False, description="do not flip images horizontally for augmentation")
    batch_size: int = Field(1, gt=0)
    num_workers: Annotated[int, Field(ge=0)] | Literal["auto"] = Field(
        "auto", description="DataLoader worker processes; auto: none on CPU (the step needs every core), on CUDA "
                            "the rank's cores minus one, at most 8")
    prefetch_factor: int | None = Field(
        None, ge=1, description="batches each worker loads ahead; unset: 4 on CUDA, torch's 2 otherwise")
    persistent_workers: bool = Field(True, description="keep worker processes between epochs (same data order)")
    serial_batches: bool = Field(False, description="take images in order (unaligned: B paired by index)")
    max_dataset_size: int | None = Field(None, gt=0, description="use at most this many images")
    test_split: str = Field("test", description="split used for held-out evaluation and samples")
    value_range: tuple[float, float] | None = Field(
        None, description="float images (e.g. float32 TIFF): the sample values mapped to [-1, 1], e.g. [0, 1]")

    @field_validator("crop_size")
    @classmethod
    def _crop_not_larger(cls, v: int, info: Any) -> int:
        load, mode = info.data.get("load_size"), info.data.get("preprocess")
        if load is not None and mode in ("resize_and_crop", "scale_width_and_crop") and v > load:
            raise ValueError(f"crop_size {v} is larger than load_size {load}; expected crop_size <= load_size")
        return v


class TrainerConfig(_Strict):
    """The training loop: length, optimizer, schedule, precision and output cadence."""

    n_epochs: int = Field(100, ge=0, description="epochs at the initial learning rate")
    n_epochs_decay: int = Field(100, ge=0, description="epochs to linearly decay the rate to zero")
    epoch_count: int = Field(1, ge=1, description="starting epoch number for the schedule (reference option)")
    max_steps: int | None = Field(None, gt=0, description="stop after this many iterations (overrides epochs)")
    optimizer: str = Field("adam", description="optimizer from the optimizers registry")
    lr: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    fused_optimizer: bool = Field(False, description="use fused/foreach optimizer kernels when available")
    lr_policy: Literal["linear", "linear_to_zero", "step", "cosine", "plateau"] = Field(
        "linear", description="linear: junyanz's lambda rule; linear_to_zero: pix2pixHD's (reaches 0 at the end)")
    lr_decay_iters: int = Field(50, gt=0, description="step policy: multiply by 0.1 every N epochs")
    profile: Literal["exact", "fast"] = Field(
        "exact", description="exact: the references' arithmetic; fast: what measures faster on this device "
        "(bf16 where native, fused Adam, channels_last/compile where they pay; overrides those settings)")
    precision: Precision = Field("fp32", description="fp32, bf16 (autocast, CPU or CUDA) or fp16 (CUDA only)")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    seed: int = Field(0)
    deterministic: bool = Field(False, description="torch.use_deterministic_algorithms")
    threads: int | None = Field(
        None, ge=1, description="intra-op CPU threads (torch.set_num_threads); unset: $OMP_NUM_THREADS, else the "
        "cores this rank may use. The resolved count is saved with the run and restored on resume: results depend on it")
    channels_last: bool = Field(False)
    compile: bool = Field(False, description="torch.compile the networks")
    sample_every: int = Field(200, gt=0, description="write sample images every N steps")
    save_every: int = Field(1000, gt=0, description="write a checkpoint every N steps")
    log_every: int = Field(10, gt=0, description="append losses to the JSONL log every N steps")
    keep_checkpoints: int = Field(3, ge=1, description="step_<n> checkpoints kept besides latest")
    init_from: str | None = Field(
        None, description="run folder or checkpoint whose tensors seed the networks where name and size match")
    nan_policy: Literal["stop", "skip", "ignore"] = Field(
        "stop", description="a NaN/inf loss: stop (keep the last finite checkpoint, exit non-zero), skip (skip optimizer "
        "steps with non-finite gradients; one host sync per step) or ignore")
    evaluate: bool = Field(True, description="after training, score the held-out split against the identity baseline")
    eval_max_images: int = Field(50, gt=0)
    eval_every: int | None = Field(None, gt=0, description="also score the held-out split every N steps")
    eval_metrics: list[str] = Field(
        default_factory=lambda: ["psnr", "ssim"], description="held-out metrics: psnr, ssim, lpips, fid, kid "
        "(fid/kid/lpips need local weight files: trainer.inception_weights / lpips_weights or $I2I_WEIGHTS_DIR)")
    inception_weights: str | None = Field(None, description="torch-fidelity InceptionV3 weights file for fid/kid")
    lpips_weights: str | None = Field(None, description="AlexNet weights file for lpips")
    best_metric: Literal["fid", "kid", "lpips", "psnr", "ssim", "none"] = Field(
        "none", description="keep checkpoints/best.json on the best held-out score of this metric")
    ema_decay: float | None = Field(
        None, gt=0, lt=1, description="keep an exponential moving average of the generators (e.g. 0.999); "
        "translate and eval use it when present")
    loggers: list[str] = Field(default_factory=list, description="live loggers by name, e.g. [\"tensorboard\"]")

    @field_validator("eval_metrics")
    @classmethod
    def _metrics_known(cls, v: list[str]) -> list[str]:
        known = ("psnr", "ssim", "lpips", "fid", "kid")
        bad = [m for m in v if m not in known]
        if bad:
            raise ValueError(f"unknown metric {bad[0]!r}; expected some of {', '.join(known)}")
        return v

    @model_validator(mode="after")
    def _best_is_measured(self) -> TrainerConfig:
        if self.best_metric != "none" and self.best_metric not in self.eval_metrics:
            self.eval_metrics = [*self.eval_metrics, self.best_metric]  # validate_assignment re-runs the checks
        return self

    @field_validator("device")
    @classmethod
    def _device_ok(cls, v: str) -> str:
        if v in ("auto", "cpu", "cuda", "mps") or (v.startswith("cuda:") and v[5:].isdigit()):
            return v
        raise ValueError(f"expected auto, cpu, cuda or cuda:N, got {v!r}")


class RunConfig(_Strict):
    """One run: which recipe, its model options, the data and the trainer."""

    recipe: str
    preset: str | None = None
    model: dict[str, Any] = Field(default_factory=dict)
    data: DataConfig = Field(default_factory=DataConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)


# --- merging ----------------------------------------------------------------------


def deep_merge(base: dict, override: dict) -> dict:
    """Return ``base`` updated recursively with ``override`` (neither is modified)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config_file(path: str | Path) -> dict:
    """Read a TOML or JSON config file into a nested dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        elif path.suffix.lower() == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # Python 3.10: the tomli backport (a dependency there)
                import tomli as tomllib

            data = tomllib.loads(text)
        else:
            raise ConfigError(f"config file {path}: expected a .toml or .json file")
    except (ValueError, json.JSONDecodeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"config file {path} is not valid {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a table/object at the top level")
    return data


def parse_value(text: str) -> Any:
    """Parse a ``--set`` value: JSON when it parses (numbers, true, null, lists), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return text


def parse_set(items: list[str] | tuple[str, ...]) -> dict:
    """Turn ``["a.b=1", "c=x"]`` into ``{"a": {"b": 1}, "c": "x"}``."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. trainer.lr=0.001")
        key, _, raw = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"--set {item!r}: empty key")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {part} is set both as a value and as a section")
        node[parts[-1]] = parse_value(raw)
    return out


def _fields_at(model: type[BaseModel] | None, loc: tuple) -> list[str]:
    """Field names of the (nested) pydantic model that ``loc`` points into, for suggestions."""
    for part in loc[:-1]:
        if model is None:
            return []
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return list(model.model_fields) if model is not None else []


def format_validation_error(error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> str:
    """One ``dotted.path: message (got value)`` per problem, joined by ``; ``.

    With ``model`` (the validated class), an unknown field gets a did-you-mean from its section's fields.
    """
    lines = []
    for err in error.errors(include_url=False):
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            close = close_matches(str(err["loc"][-1]), _fields_at(model, tuple(err["loc"])), n=3)
            msg = "unknown field" + (f" (did you mean {' or '.join(close)}?)" if close else "")
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{...}"
        lines.append(f"{loc}: {msg} (got {shown})")
    return "; ".join(lines)

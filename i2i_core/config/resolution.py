"""Config resolution: the one function that turns a recipe name and the user's layers into a RunConfig.

Order (later wins): the recipe's ``defaults`` (or a saved run's config when resuming) < the preset
chain (``"extends"`` followed) < ``--config FILE`` < every ``--set a.b=c``; then one validation of
the run sections and the recipe's ``model`` section together (every problem reported at once),
then the recipe's cross-section checks (:meth:`Recipe.validate_run`).

Options that belong to one generator only are marked in the recipe's ``Config`` with
``json_schema_extra={"only_for": {"netG": ["unet"]}}``: when a later layer changes ``model.netG``
away from a value an earlier layer's option needs, that option is cleared with a note (logged on
``i2i_core.config.resolution``), instead of failing until the user also unsets it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from pydantic import BaseModel, ValidationError

from i2i_core.base.errors import ConfigError
from i2i_core.config.schema import RunConfig, deep_merge, format_validation_error, load_config_file, parse_set

if TYPE_CHECKING:
    from i2i_core.recipe.contract import Recipe
    from i2i_core.registry.registries import Registries

log = logging.getLogger(__name__)

#: the user's overrides: a nested dict, or ``a.b=c`` strings as ``--set`` takes them
Overrides = Mapping[str, Any] | Sequence[str]

#: settings a resumed run cannot take over: they define the data order, the batches or the
#: optimizer's state, so the run would no longer be the one its checkpoint continues
FIXED_ON_RESUME = {
    "data.batch_size": "the step counter and the data order are per batch",
    "data.dataset": "the data order is per data set",
    "data.direction": "the networks learned the other direction",
    "data.serial_batches": "the data order would change mid-epoch",
    "trainer.seed": "the data order and augmentation are derived from the seed",
    "trainer.optimizer": "the optimizer state belongs to the other optimizer",
    "trainer.init_from": "a resumed run takes its weights from the checkpoint",
}

#: one changed setting of a resumed run: ``(dotted key, saved value, new value)``
Change = tuple[str, Any, Any]


def resolve_config(
    registries: Registries,
    recipe: str,
    preset: str | None = None,
    config_file: str | None = None,
    overrides: Overrides | None = None,
    base: dict[str, Any] | None = None,
    *,
    cross_checks: bool = True,
) -> RunConfig:
    """Merge defaults < preset chain < file < overrides and validate once.

    Args:
        registries: where the recipe class and its presets are looked up.
        recipe: the recipe's registry name.
        preset: a preset of that recipe (``None``: the recipe's defaults).
        config_file: a TOML or JSON file merged over the preset.
        overrides: nested dict or ``["a.b=c", ...]`` merged last.
        base: replaces the recipe defaults (a resumed run's saved config).
        cross_checks: run :meth:`Recipe.validate_run` (``False``: show a staged preset).

    Raises:
        ConfigError: one line listing every problem.
        UnknownNameError: unknown recipe or preset, with suggestions.
    """
    cls = registries.recipes.get(recipe)
    layers: list[tuple[str, Mapping[str, Any]]] = [
        ("the saved run's config" if base is not None else "the recipe defaults",
         base if base is not None else (getattr(cls, "defaults", {}) or {}))]
    if preset:
        layers.append((f"preset {preset}", _preset_chain(registries, recipe, preset)))
    if config_file:
        layers.append((f"--config {config_file}", load_config_file(config_file)))
    if overrides:
        layers.append(("--set", overrides if isinstance(overrides, Mapping) else parse_set(list(overrides))))
    merged: dict[str, Any] = {}
    for _, layer in layers:
        merged = deep_merge(merged, dict(layer))
    merged["recipe"], merged["preset"] = recipe, preset
    _clear_stale_options(cls.Config, merged, layers)
    run = validate(registries, merged, cross_checks=cross_checks)
    reader = registries.datasets.entry(run.data.dataset) if run.data.dataset in registries.datasets else None
    if reader is not None and not reader.training:  # a run trains: an input-only reader ends in KeyError 'B'
        raise ConfigError(f"data.dataset: {run.data.dataset!r} reads inputs only (no targets) and cannot train "
                          f"{recipe}; use it with `i2i translate`, or pick a training reader "
                          f"({', '.join(e.name for e in registries.datasets.entries() if e.training)})")
    return run


def resolve_resumed(
    registries: Registries,
    saved: Mapping[str, Any],
    recipe: str,
    preset: str | None = None,
    config_file: str | None = None,
    overrides: Overrides | None = None,
    *,
    source: str = "the checkpoint",
) -> tuple[RunConfig, list[Change]]:
    """The config a resumed run trains with: the checkpoint's own, plus ``--config``/``--set``.

    Args:
        saved: the config stored with the checkpoint (its ``recipe`` and ``preset`` included).
        recipe, preset: what the command asked for; they must be the saved run's.
        source: how messages name the run being continued.

    Returns:
        The config and its ``(dotted key, old, new)`` changes, each of which the trainer applies
        (rescaled learning rates, a rebuilt data set, ...).

    Raises:
        ConfigError: another recipe or preset, or a change in :data:`FIXED_ON_RESUME`.
    """
    if saved.get("recipe") != recipe:
        raise ConfigError(f"--resume: {source} is a {saved.get('recipe')} run, not {recipe}")
    saved_preset = saved.get("preset")
    if preset is not None and preset != saved_preset:
        raise ConfigError(f"--resume: the run was trained with --preset {saved_preset}, not {preset}; drop --preset "
                          f"(the checkpoint's config is kept) or start a new run with --init-from")
    base = {k: v for k, v in saved.items() if k not in ("recipe", "preset")}
    run = resolve_config(registries, recipe, None, config_file, overrides, base=base)
    run.preset = saved_preset
    old = validate(registries, {**base, "recipe": recipe, "preset": saved_preset}).model_dump()
    changes = _diff(old, run.model_dump())
    refused = [(k, a, b) for k, a, b in changes if k in FIXED_ON_RESUME]
    if refused:
        key, a, b = refused[0]
        raise ConfigError(f"--resume: {key} changed from {a!r} to {b!r}, which a resumed run cannot apply "
                          f"({FIXED_ON_RESUME[key]}); keep {a!r} or start a new run with --init-from")
    return run, changes


def _diff(old: Any, new: Any, prefix: str = "") -> list[Change]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[Change] = []
        for key in sorted(set(old) | set(new)):
            out += _diff(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [(prefix[:-1], old, new)]


def validate(registries: Registries, merged: dict[str, Any], *, cross_checks: bool = True) -> RunConfig:
    """Validate a merged dict: the run sections and ``model`` (by the recipe's Config) together.

    Every problem is reported at once, in one line; ``cross_checks=False`` skips the
    recipe's ``validate_run`` (``show-config`` of a staged preset).
    """
    cls: type[Recipe] = registries.recipes.get(merged.get("recipe", ""))
    problems: list[str] = []
    run: RunConfig | None = None
    model: BaseModel | None = None
    try:
        run = RunConfig.model_validate(merged)
    except ValidationError as exc:
        problems.append(format_validation_error(exc, model=RunConfig))
    try:
        model = cls.Config.model_validate(merged.get("model") or {})
    except ValidationError as exc:
        problems.append(format_validation_error(exc, prefix="model", model=cls.Config))
    if run is None or model is None:
        count = sum(p.count("; ") + 1 for p in problems)
        raise ConfigError(f"invalid config{f' ({count} problems)' if count > 1 else ''}: {'; '.join(problems)}")
    run.model = model.model_dump()
    if cross_checks:
        cls.validate_run(run)
    return run


def _preset_chain(registries: Registries, recipe: str, preset: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A preset's overrides with ``"extends": "other"`` (another preset of the same recipe) resolved."""
    if preset in seen:
        raise ConfigError(f"preset {recipe}/{preset} extends itself (chain: {' -> '.join((*seen, preset))})")
    own = dict(registries.presets.lookup(recipe, preset).obj)
    parent = own.pop("extends", None)
    if parent is None:
        return own
    return deep_merge(_preset_chain(registries, recipe, parent, (*seen, preset)), own)


def _clear_stale_options(config: type[BaseModel], merged: dict[str, Any],
                         layers: list[tuple[str, Mapping[str, Any]]]) -> None:
    """Drop ``model`` options marked ``only_for`` a value that a later layer changed (with a note)."""
    model = merged.get("model")
    if not isinstance(model, dict):
        return

    def last_layer(key: str) -> int:
        found = -1
        for i, (_, layer) in enumerate(layers):
            section = layer.get("model")
            if isinstance(section, Mapping) and key in section:
                found = i
        return found

    for name, field in config.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        only_for = extra.get("only_for")
        if not isinstance(only_for, dict) or model.get(name) is None:
            continue
        for owner, allowed in only_for.items():
            if not isinstance(allowed, list):
                raise TypeError(f"{config.__name__}.{name}: only_for values must be lists of allowed values")
            current = model.get(owner, getattr(config.model_fields.get(owner), "default", None))
            set_at, changed_at = last_layer(name), last_layer(owner)
            if current in allowed or changed_at <= set_at:
                continue  # still applies, or the user set both in the same layer (validate_run reports it)
            log.warning("note: model.%s=%r (from %s) cleared: it only applies to model.%s in %s, and %s sets "
                        "model.%s=%r", name, model[name], layers[set_at][0], owner, ", ".join(map(str, allowed)),
                        layers[changed_at][0], owner, current)
            del model[name]
            break

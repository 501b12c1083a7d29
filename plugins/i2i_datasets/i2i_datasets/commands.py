"""``i2i data``: ``synth`` (make a synthetic data set) and ``prepare-cityscapes``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click

from i2i_core import ConfigError, I2IError

from .cityscapes import SPLITS, plan_cityscapes, prepare_cityscapes
from .layouts import LAYOUTS


class _DataGroup(click.Group):
    """Shows :class:`I2IError` as one ``Error:`` line even when mounted on a bare click group."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except I2IError as exc:
            raise click.ClickException(str(exc) + (f"\nHint: {exc.hint}" if exc.hint else "")) from None


def _progress(label: str) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True)


def _nonempty(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


@click.group("data", cls=_DataGroup)
def data() -> None:
    """Make and prepare data sets (synthetic sets, Cityscapes)."""


@data.command("synth")
@click.option("--layout", type=click.Choice(LAYOUTS), default="aligned", show_default=True,
              help="aligned (A|B pairs), unaligned (trainA/trainB, paired test sets) or labels (pix2pixHD)")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="destination folder (becomes data.root)")
@click.option("--n", type=int, default=100, show_default=True, help="training images (per domain for unaligned)")
@click.option("--size", type=int, default=128, show_default=True, help="image side in pixels")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--classes", type=int, default=4, show_default=True, help="foreground classes (ids 1..K, 0 = background)")
@click.option("--n-test", "n_test", type=int, default=None, help="held-out images  [default: max(1, n // 5)]")
@click.option("--force", is_flag=True, help="replace the layout's folders and synthetic.json if OUT is not empty")
def synth(layout: str, out: Path, n: int, size: int, seed: int, classes: int, n_test: int | None,
          force: bool) -> None:
    """Generate a procedural data set of textured shapes (deterministic in --seed)."""
    from pydantic import ValidationError

    from . import synthetic as syn  # here, not at the top: torch loads only when data is made

    fields = {"layout": layout, "n": n, "size": size, "seed": seed, "classes": classes, "n_test": n_test}
    try:
        spec = syn.SyntheticSpec(**fields)
    except ValidationError as err:  # name the command-line option, not the model field
        msgs = [f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']} (got {e.get('input')!r})"
                for e in err.errors(include_url=False)]
        raise ConfigError("; ".join(msgs)) from None
    if _nonempty(out):
        if not force:
            raise ConfigError(f"--out {out} is not empty; choose another folder or pass --force to replace "
                              f"its {', '.join(syn.layout_folders(spec))} folders")
        for name in [*syn.layout_folders(spec), syn.MANIFEST]:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    with _progress(f"synth {layout}") as bar:
        task = bar.add_task("render", total=syn.total_items(spec))
        syn.generate(spec, out, progress=lambda k: bar.advance(task, k))
    click.echo(f"wrote {spec.n} train + {spec.n_test} test {layout} images ({size}x{size}, {classes} classes, "
               f"seed {seed}) to {out}")
    reader = {"aligned": "aligned", "unaligned": "unaligned", "labels": "labels"}[layout]
    click.echo(f"use it with: --set data.root={out} --set data.dataset={reader}"
               + (f" (pix2pixHD: label_nc {classes + 1})" if layout == "labels" else ""))


@data.command("prepare-cityscapes")
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--copy", is_flag=True, help="copy the files instead of hard-linking them")
@click.option("--force", is_flag=True, help="write into OUT even if its split folders are not empty")
def prepare(src: Path, out: Path, copy: bool, force: bool) -> None:
    """Arrange a Cityscapes download (SRC with gtFine/ and leftImg8bit/) for the labels reader.

    train -> OUT/train_label, train_inst, train_img; val -> OUT/test_*. Files are
    hard-linked when SRC and OUT share a file system (else copied) and keep their names.
    """
    jobs = plan_cityscapes(src)  # validates SRC before anything is written
    folders = [f"{ours}_{kind}" for ours in SPLITS.values() for kind in ("label", "inst", "img")]
    busy = [f for f in folders if _nonempty(out / f)]
    if busy and not force:
        raise ConfigError(f"{out / busy[0]} is not empty; choose another OUT or pass --force to overwrite its files")
    with _progress("cityscapes") as bar:
        task = bar.add_task("files", total=len(jobs))
        counts = prepare_cityscapes(src, out, link=not copy, jobs=jobs,
                                    progress=lambda k: bar.advance(task, k))
    per_folder = ", ".join(f"{f} {counts.get(f, 0)}" for f in folders)
    click.echo(f"{out}: {per_folder} ({counts['linked']} hard-linked, {counts['copied']} copied)")
    click.echo(f"use it with: --set data.root={out} --set data.dataset=cityscapes (label_nc 35)")

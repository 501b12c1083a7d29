"""``i2i pix2pixhd ...`` commands (added by the ``register_commands`` hook).

This module imports click only: it is loaded while the CLI starts, so torch and the feature code
are imported when a command runs, not when ``i2i --help`` is answered.
"""

from __future__ import annotations

from typing import Any

import click


def _engine(ctx: click.Context) -> Any:
    """The one Engine of this CLI call: ``i2i_core.cli.main`` passes it as ``obj["engine"]``."""
    obj = ctx.find_object(dict)
    if not obj or "engine" not in obj:
        raise click.ClickException("i2i pix2pixhd: no engine on the click context; run the command through "
                                   "`i2i` (or invoke it with obj={'engine': engine})")
    return obj["engine"]


def add_commands(cli: click.Group) -> None:
    """Add the ``i2i pix2pixhd`` command group (``encode-features``) to the click CLI."""

    @cli.group(name="pix2pixhd", help="pix2pixHD tools (feature clustering).")
    def group() -> None:
        pass

    @group.command(name="encode-features", help="Encode a *_feat run's training set with its encoder E and "
                   "save per-class k-means centres as RUN/features_clustered.pt.")
    @click.argument("run_dir", metavar="RUN", type=click.Path(exists=True, file_okay=False))
    @click.option("--split", default="train", show_default=True, help="data split to encode")
    @click.option("--n-clusters", type=int, default=None, help="clusters per class (default: model.n_clusters)")
    @click.option("--max-images", type=int, default=None, help="encode at most this many images")
    @click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:N]")
    @click.option("--seed", type=int, default=0, show_default=True, help="k-means seed")
    @click.pass_context
    def encode_features_cmd(ctx: click.Context, run_dir: str, split: str, n_clusters: int | None,
                            max_images: int | None, device: str, seed: int) -> None:
        from .features import encode_and_cluster

        path = encode_and_cluster(_engine(ctx), run_dir, split=split, n_clusters=n_clusters,
                                  max_images=max_images, device=device, seed=seed)
        click.echo(f"wrote {path}")

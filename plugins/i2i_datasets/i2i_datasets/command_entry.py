"""``i2i data``, listed by ``i2i --help`` without importing torch (entry point group ``i2i.commands``).

This module imports click only. The group it adds stands for :data:`i2i_datasets.commands.data`,
whose module (readers, the synthetic generator, torch) is imported when ``i2i data`` is used.
"""

from __future__ import annotations

from typing import Any

import click


class _LazyDataGroup(click.Group):
    """``i2i data`` until it is used; then every call goes to the real group."""

    @staticmethod
    def _real() -> click.Group:
        from .commands import data

        return data

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._real().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._real().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        return self._real().invoke(ctx)


def add_commands(cli: click.Group) -> None:
    """Add ``i2i data`` (``synth``, ``prepare-cityscapes``) to the ``i2i`` group."""
    cli.add_command(_LazyDataGroup("data", help="Make and prepare data sets (synthetic sets, Cityscapes)."))

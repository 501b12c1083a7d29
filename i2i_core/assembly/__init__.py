"""Putting a run together: the :class:`~i2i_core.assembly.engine.Engine` (plugin manager, the
registries its plugins fill, recipe building) and ``run`` (resolved config -> data -> recipe ->
Trainer -> held-out scores -> report, under the run folder's lock).

May import: ``base`` through ``training``.
"""

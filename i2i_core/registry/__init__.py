"""Registries and hooks: the name -> builder ``Registry`` with did-you-mean look-ups, the hook
specifications (each hook's docstring is its contract), entry-point loading (a broken plugin is
reported by name and the rest keep working), and the helpers every plugin's registration uses.

May import: ``base``.
"""

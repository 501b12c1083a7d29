"""Run configuration: the pydantic models of the run sections (``data``, ``trainer``) and the one
resolution of defaults < preset chain < ``--config`` file < ``--set`` into a validated
:class:`~i2i_core.config.schema.RunConfig`.

May import: ``base``, ``registry``.
"""

"""``python -m i2i_core`` is the ``i2i`` command (for environments without the console script)."""

from i2i_core.cli import main

if __name__ == "__main__":
    main()

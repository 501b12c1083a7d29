"""How long the ``i2i`` command takes to answer before it does any work.

Prints the median wall time (subprocess start to exit) of ``i2i --help``, ``i2i --version`` and
``i2i run --help`` next to ``python -c pass``, the floor any Python command pays, and the median CPU
time (user + system) of the child, which a busy machine inflates much less than the wall time::

    python benchmarks/cli_startup.py --repeats 7
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _i2i() -> list[str]:
    """The ``i2i`` console script of this interpreter's environment (else ``python -m i2i_core``)."""
    if "--module" in sys.argv:  # e.g. another checkout first on PYTHONPATH
        return [sys.executable, "-m", "i2i_core"]
    script = Path(sys.executable).with_name("i2i")
    if script.is_file():
        return [str(script)]
    found = shutil.which("i2i")
    return [found] if found else [sys.executable, "-m", "i2i_core"]


def median_seconds(cmd: list[str], repeats: int) -> tuple[float, float]:
    """Median wall and CPU time of ``cmd`` over ``repeats`` runs (after one unmeasured run to warm the file cache)."""
    subprocess.run(cmd, check=True, capture_output=True)
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--module", action="store_true", help="run `python -m i2i_core` instead of the i2i script")
    args = parser.parse_args(argv)
    i2i = _i2i()
    cases = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("i2i --help", [*i2i, "--help"]),
        ("i2i --version", [*i2i, "--version"]),
        ("i2i run --help", [*i2i, "run", "--help"]),
    ]
    print(f"{'command':<20} {'wall':>8} {'cpu':>8}   (medians of {args.repeats})")
    for label, cmd in cases:
        wall, cpu = median_seconds(cmd, args.repeats)
        print(f"{label:<20} {wall:7.3f}s {cpu:7.3f}s")


if __name__ == "__main__":
    main()

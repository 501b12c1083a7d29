"""Process memory readings shared by the benchmarks (Linux ``/proc``)."""

from __future__ import annotations

import resource


def peak_rss_bytes() -> int:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that over
    ``exec`` from the parent, so a child would report the parent's peak."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def rss_bytes() -> int:
    """This process's resident memory now."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()

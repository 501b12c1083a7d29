"""Render a run's ``index.html`` in headless Chromium and save a PNG screenshot.

    python scripts/screenshot_page.py runs/pix2pix-demo --out page.png [--width 1280 --height 2400]

Needs a Chromium binary (Debian: ``apt-get install chromium``; or ``--browser PATH``). The page
is loaded from the file system with networking features off: it must not need anything else.
Exit code 2 when no browser is found, so callers (tests) can skip.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser(explicit: str | None = None) -> str | None:
    """The Chromium executable to use, or None."""
    if explicit:
        return explicit if Path(explicit).is_file() or shutil.which(explicit) else None
    return next((shutil.which(c) for c in CANDIDATES if shutil.which(c)), None)


def screenshot(page: Path, out: Path, browser: str, width: int = 1280, height: int = 2400,
               timeout: float = 120) -> Path:
    """Load ``page`` in headless ``browser`` and write a ``width`` x ``height`` PNG to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--window-size={width},{height}", f"--screenshot={out.resolve()}", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"{browser} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="run folder (holding index.html) or an HTML file")
    ap.add_argument("--out", default="page.png")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2400)
    ap.add_argument("--browser", help="path of the Chromium binary")
    args = ap.parse_args()
    page = Path(args.run)
    page = page / "index.html" if page.is_dir() else page
    if not page.is_file():
        print(f"{page}: no such page", file=sys.stderr)
        return 1
    browser = find_browser(args.browser)
    if browser is None:
        print("no Chromium found (apt-get install chromium, or --browser PATH)", file=sys.stderr)
        return 2
    print(screenshot(page, Path(args.out), browser, args.width, args.height))
    return 0


if __name__ == "__main__":
    sys.exit(main())

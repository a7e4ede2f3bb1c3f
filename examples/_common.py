"""Shared command-line handling of the example scripts (``--small``, ``--outdir``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def parse(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--small", action="store_true", help="quick, low-resolution settings")
    p.add_argument("--outdir", default="figures", help="directory for the figures")
    args = p.parse_args()
    args.outdir = Path(args.outdir)
    args.outdir.mkdir(parents=True, exist_ok=True)
    return args

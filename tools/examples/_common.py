"""Shared bits of the examples: argument parsing, the Agg backend, the map generator import."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
COSMOLOGY = HERE.parent / "experiments" / "cosmology"
if str(COSMOLOGY) not in sys.path:
    sys.path.insert(0, str(COSMOLOGY))


def parse(doc: str, argv: list[str] | None = None) -> argparse.Namespace:
    """``--out DIR`` (default ``./example-output``) and ``--quick`` (the tests' mode)."""
    p = argparse.ArgumentParser(description=doc.strip().split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("example-output"))
    p.add_argument("--quick", action="store_true", help="tiny sizes, for the tests")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args

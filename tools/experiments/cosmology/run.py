"""Offline DeepSphere cosmology experiment.

Commands (run from anywhere)::

    python tools/experiments/cosmology/run.py maps --out DIR --nside 32 --n-maps 30 --seed 0
    python tools/experiments/cosmology/run.py run --out DIR [--quick] [--orders 1 2] [--methods ...]
    python tools/experiments/cosmology/run.py regress --out DIR [--quick]

``run`` is resumable: cells already in ``DIR/results.json`` are skipped, so a long run
can be split into parts (``--orders``, ``--methods``, ``--noise``) that write to the same
``DIR``; the table and the figure are rewritten from all cells after every part.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cosmo_exp import experiment, maps, regression


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("maps", help="write full-sky maps of both classes")
    m.add_argument("--out", required=True, type=Path)
    m.add_argument("--nside", type=int, default=32)
    m.add_argument("--n-maps", type=int, default=30)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--shape", type=float, default=0.7, help="sigma_kappa / shift of model1")
    r = sub.add_parser("run", help="classification experiment")
    r.add_argument("--out", required=True, type=Path)
    r.add_argument("--quick", action="store_true", help="small maps and few epochs (< 2 min)")
    r.add_argument("--orders", type=int, nargs="+")
    r.add_argument("--noise", type=float, nargs="+")
    r.add_argument("--methods", nargs="+", choices=experiment.METHODS)
    r.add_argument("--k", type=int, nargs="+", dest="ks")
    r.add_argument("--epochs", type=int)
    r.add_argument("--n-maps", type=int)
    r.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="cells run in this many worker processes, one thread each (default: 2 or the cores)",
    )
    g = sub.add_parser("regress", help="regression of (Omega_m, sigma_8) from several channels")
    g.add_argument("--out", required=True, type=Path)
    g.add_argument("--quick", action="store_true")
    g.add_argument("--epochs", type=int)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.perf_counter()
    if args.command == "maps":
        maps.write_maps(args.out, args.nside, args.n_maps, args.seed, args.shape)
        print(f"wrote {2 * args.n_maps} maps to {args.out}")
    elif args.command == "run":
        cfg = experiment.Config.quick() if args.quick else experiment.Config()
        for name in ("orders", "noise", "methods", "ks", "epochs", "n_maps"):
            value = getattr(args, name)
            if value is not None:
                setattr(cfg, name, tuple(value) if isinstance(value, list) else value)
        results = experiment.run(cfg, args.out, jobs=args.jobs)
        print((args.out / "results.md").read_text())
        print(f"{len(results)} cells in {args.out / 'results.json'}")
    else:
        cfg = regression.RegressionConfig.quick() if args.quick else regression.RegressionConfig()
        if args.epochs is not None:
            cfg.epochs = args.epochs
        res = regression.run_regression(cfg)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "regression.json").write_text(json.dumps(res, indent=1))
        regression.figure(res, args.out / "regression.png")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

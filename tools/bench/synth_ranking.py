"""What the synthetic CAM5 benchmark measures: a per-pixel baseline against spherical U-Nets.

Three parts, each appending JSON records to ``--results`` (one line per measurement),
so that long parts can be run one command at a time:

* ``pixelwise``  per-pixel logistic regression (scikit-learn) on the 16 channels
                 normalised with the training files' mean/std, no spatial context.
                 Two protocols: the issue's (sorted files, first 2/3 train, last 1/3
                 test) and the U-Net's own split (``split_files``, 70/10/20, seed).
* ``unet``       the default U-Net: ``climate-seg train --data DIR`` with every default
                 (``small`` preset on the native icosahedral level-5 mesh, ``auto`` class
                 weights, the ``time`` split: contiguous 70/10/20 blocks of the date-sorted
                 files) except ``--epochs``; test-split AP. The seed sets the initialisation.
* ``ranking``    model choices under the same budget (``--epochs`` each, 3 seeds, the
                 application's defaults without early stopping): k = 8
                 vs 20, icosahedral vs HEALPix vs equiangular grids (depth 3), depth 3 vs
                 2 (the default) vs 1, with
                 ``--split`` (default ``time``; ``random`` lets the seed set the split too,
                 but then neighbouring 3-hourly frames of one storm sit on both sides of the
                 train/test line and the test AP rewards memorising storms).

``--report`` prints the markdown tables (median and range over seeds).

Usage (each command well under 10 minutes on one core)::

    climate-seg data synth --out runs/synth240 --samples 240 --seed 0
    python tools/bench/synth_ranking.py pixelwise --data runs/synth240
    python tools/bench/synth_ranking.py unet --data runs/synth240 --epochs 12 --seed 0 1 2
    python tools/bench/synth_ranking.py ranking --data runs/synth240 --only ico-k8 --seed 0
    python tools/bench/synth_ranking.py report
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

# this folder holds a script named cheb_conv.py: keep it from shadowing the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

#: Model choices of the ranking: name -> TrainConfig overrides.
CHOICES = {
    "ico-k8": dict(sampling="icosahedral", resolution=5, depth=3),
    "ico-k20": dict(sampling="icosahedral", resolution=5, neighbours=20, depth=3),
    "healpix-k8": dict(sampling="healpix", resolution=32, depth=3),
    "equiangular-k8": dict(sampling="equiangular", resolution=64, depth=3),
    "ico-k8-depth2": dict(sampling="icosahedral", resolution=5, depth=2),
    "ico-k8-depth1": dict(sampling="icosahedral", resolution=5, depth=1),
}
#: Settings of the ranking runs: the application's defaults (``small`` preset, ``auto`` class
#: weights, plateau schedule, Chebyshev order 5), but no early stopping, so that every choice
#: trains for the same number of epochs (the best validation epoch is still the one tested).
RANKING = dict(patience=0)


def _append(path: Path, record: dict) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    print(json.dumps(record))


def pixelwise(files: list[Path], train: list[Path], test: list[Path]) -> dict[str, float]:
    """AP TC/AR of a per-pixel logistic regression trained on ``train``, tested on ``test``."""
    from climate_seg.data import read_sample
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    def load(fs):
        pairs = [read_sample(f) for f in fs]
        return np.concatenate([p[0].T for p in pairs]), np.concatenate([p[1] for p in pairs])

    x_tr, y_tr = load(train)
    x_te, y_te = load(test)
    mean, std = x_tr.mean(0), x_tr.std(0)
    fit = LogisticRegression(max_iter=1000).fit((x_tr - mean) / std, y_tr)
    prob = fit.predict_proba((x_te - mean) / std)
    return {
        "ap_tc": float(average_precision_score(y_te == 1, prob[:, 1])),
        "ap_ar": float(average_precision_score(y_te == 2, prob[:, 2])),
    }


def run_pixelwise(data: Path, results: Path, seed: int) -> None:
    from climate_seg.data import list_files, split_files

    files = list_files(data)
    n_train = round(len(files) * 2 / 3)
    t0 = time.perf_counter()
    issue = pixelwise(files, files[:n_train], files[n_train:])
    split = split_files(files, seed=seed)
    own = pixelwise(files, split.train, split.test)
    _append(
        results,
        {
            "part": "pixelwise",
            "protocol": "first 2/3 train, last 1/3 test",
            **issue,
            "n_files": len(files),
            "seconds": round(time.perf_counter() - t0, 1),
        },
    )
    _append(
        results,
        {
            "part": "pixelwise",
            "protocol": f"U-Net split (seed {seed})",
            **own,
            "n_files": len(files),
        },
    )


def run_unet(data: Path, results: Path, name: str, overrides: dict, epochs: int, seed: int) -> None:
    from climate_seg import load_config, train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(
            None,
            **overrides,
            data=str(data),
            out=str(Path(tmp) / "run"),
            epochs=epochs,
            seed=seed,
        )
        t0 = time.perf_counter()
        run_dir = Path(train(cfg))
        seconds = time.perf_counter() - t0
        report = json.loads((run_dir / "test_metrics.json").read_text())
    grid = report["test"]["grid"]
    _append(
        results,
        {
            "part": "unet" if name == "default" else "ranking",
            "model": name,
            "seed": seed,
            "epochs": epochs,
            "split": cfg.split,
            "ap_tc": grid["ap_tc"],
            "ap_ar": grid["ap_ar"],
            "map": grid["map"],
            "seconds": round(seconds, 1),
        },
    )


def report(results: Path) -> None:
    records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    print("| model | AP TC | AP AR | time |\n|---|---|---|---|")
    for r in records:
        if r["part"] == "pixelwise":
            print(
                f"| per-pixel logistic regression ({r['protocol']}) | {r['ap_tc']:.3f} | {r['ap_ar']:.3f} | |"
            )
        elif r["part"] == "unet":
            print(
                f"| default U-Net, {r['epochs']} epochs, {r.get('split', 'random')} split, seed {r['seed']} "
                f"| {r['ap_tc']:.3f} | {r['ap_ar']:.3f} "
                f"| {r['seconds']:.0f} s |"
            )
    rows: dict[str, list[dict]] = {}
    for r in records:
        if r["part"] == "ranking":
            rows.setdefault(r["model"], []).append(r)
    if rows:
        print(
            "\n| model | epochs | seeds | AP TC median [min, max] | AP AR median [min, max] | mAP median "
            "[min, max] | time per run |\n|---|---|---|---|---|---|---|"
        )
    for name, rs in rows.items():
        cells = []
        for key in ("ap_tc", "ap_ar", "map"):
            v = [r[key] for r in rs]
            cells.append(f"{statistics.median(v):.3f} [{min(v):.3f}, {max(v):.3f}]")
        sec = statistics.median(r["seconds"] for r in rs)
        seeds = ",".join(str(r["seed"]) for r in rs)
        print(f"| {name} | {rs[0]['epochs']} | {seeds} | {' | '.join(cells)} | {sec:.0f} s |")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("part", choices=["pixelwise", "unet", "ranking", "report"])
    ap.add_argument("--data", type=Path, help="folder of synthetic files (climate-seg data synth)")
    ap.add_argument("--results", type=Path, default=Path("runs/synth_ranking.jsonl"))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, nargs="+", default=[0])
    ap.add_argument("--split", choices=["time", "random"], default="time", help="ranking split")
    ap.add_argument(
        "--only", nargs="+", choices=sorted(CHOICES), help="ranking: these choices only"
    )
    args = ap.parse_args()
    args.results.parent.mkdir(parents=True, exist_ok=True)
    if args.part == "report":
        report(args.results)
        return
    if args.data is None:
        ap.error("--data is required")
    for seed in args.seed:
        if args.part == "pixelwise":
            run_pixelwise(args.data, args.results, seed)
        elif args.part == "unet":
            run_unet(args.data, args.results, "default", {}, args.epochs, seed)
        else:
            for name in args.only or CHOICES:
                overrides = {**RANKING, **CHOICES[name], "split": args.split}
                run_unet(args.data, args.results, name, overrides, args.epochs, seed)


if __name__ == "__main__":
    main()

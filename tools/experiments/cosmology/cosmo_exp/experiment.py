"""The classification experiment: every method on the same patches, splits and noise.

Results are appended to ``results.json`` after every (method, k, order, noise) cell,
and cells already present are skipped, so a run can be split into parts
(``--orders``, ``--methods``) or resumed after an interruption.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from . import baselines, data, maps, models

__all__ = ["METHODS", "Config", "figure", "markdown_table", "run"]

METHODS = ("deepsphere_fcn", "deepsphere_cnn", "cnn2d", "svm_histogram", "svm_psd")


@dataclass
class Config:
    """Experiment settings (``quick()`` / ``default()``)."""

    nside: int = 32
    n_maps: int = 30
    seed: int = 0
    shape: float = 0.7
    orders: tuple[int, ...] = (1, 2, 4)
    noise: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0)
    ks: tuple[int, ...] = (8, 20, 40)
    methods: tuple[str, ...] = METHODS
    epochs: int = 15
    width: int = 16
    kernel_size: int = 5
    batch: int = 32
    test_fraction: float = 0.3

    @classmethod
    def quick(cls) -> Config:
        # nside 32: the 8 x 8 patches of order 4 are the smallest on which k = 40 fits
        return cls(
            nside=32, n_maps=6, orders=(1, 2, 4), noise=(0.0, 1.0), epochs=3, width=8, kernel_size=3
        )


def _cells(cfg: Config) -> list[tuple[str, int | None, int, float]]:
    cells: list[tuple[str, int | None, int, float]] = []
    for order in cfg.orders:
        for noise in cfg.noise:
            for m in cfg.methods:
                if m.startswith("deepsphere"):
                    cells += [(m, k, order, noise) for k in cfg.ks]
                else:
                    cells.append((m, None, order, noise))
    return cells


def _key(r: dict) -> tuple:
    return (r["method"], r["k"], r["order"], float(r["noise"]))


def _load(path: Path, cfg: Config) -> list[dict]:
    if not path.exists():
        return []
    config = path.with_name("config.json")
    saved = json.loads(config.read_text()) if config.exists() else {}
    if any(saved.get(key) != getattr(cfg, key) for key in _DATA_KEYS):
        raise ValueError(f"{path} was written with other maps ({config}); use a fresh --out.")
    return json.loads(path.read_text())


# settings that define the maps and splits: every part of a run must share them
_DATA_KEYS = ("nside", "n_maps", "seed", "shape", "test_fraction")


def _save(path: Path, cfg: Config, results: list[dict]) -> None:
    config = {key: getattr(cfg, key) for key in _DATA_KEYS}
    path.with_name("config.json").write_text(json.dumps(config, indent=1))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(path)


def run(
    cfg: Config, out: str | Path, log: Callable[[str], Any] = print, jobs: int = 1
) -> list[dict]:
    """Run every missing cell of ``cfg`` and write ``results.json``, ``results.md``, ``accuracy.png``.

    ``results.json`` is the list of cells; ``config.json`` holds the settings that define
    the maps and splits (a later part with other maps is refused). With ``jobs > 1``
    the cells run in that many worker processes (one thread each), longest first;
    each cell seeds itself, so its result does not depend on ``jobs`` or on the order.

    Returns
    -------
    list of dict
        ``{method, k, order, noise, accuracy, n_test, seconds, infer_ms}`` (``seconds``:
        training or fitting time; ``infer_ms``: prediction time per test patch).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}.")
    unknown = set(cfg.methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; choose from {METHODS}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    results = _load(path, cfg)
    done = {_key(r) for r in results}
    todo = [c for c in _cells(cfg) if (c[0], c[1], c[2], float(c[3])) not in done]
    if todo:
        all_maps = maps.generate_maps(cfg.nside, cfg.n_maps, cfg.seed, cfg.shape)
        sigma = float(np.mean([m.std() for m in all_maps.values()]))
    splits: dict[int, data.Split] = {}
    for _, _, order, _ in todo:
        if order not in splits:
            splits[order] = data.make_split(all_maps, cfg.nside, order, cfg.test_fraction)

    def done_cell(r: dict) -> None:
        log(
            f"{r['method']:15s} k={r['k']!s:4s} order={r['order']} noise={r['noise']:.1f}: "
            f"accuracy {100 * r['accuracy']:.1f} % ({r['seconds']:.1f} s)"
        )
        results.append(r)
        _save(path, cfg, results)

    if jobs == 1 or len(todo) <= 1:
        for method, k, order, noise in todo:
            done_cell(_cell(cfg, splits[order], method, k, order, noise, sigma))
    else:
        todo.sort(key=_cost, reverse=True)
        # spawn, not fork: the parent may hold OpenMP / BLAS thread pools
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"))
        try:
            futures = [
                pool.submit(_cell, cfg, splits[order], method, k, order, noise, sigma)
                for method, k, order, noise in todo
            ]
            for fut in as_completed(futures):
                done_cell(fut.result())
        finally:  # on an error, finished cells are saved; queued ones are dropped
            pool.shutdown(wait=True, cancel_futures=True)
    _save(path, cfg, results)
    (out / "results.md").write_text(markdown_table(results))
    figure(results, out / "accuracy.png")
    return results


# relative cost of a cell (training time measured by the default run) for scheduling
_METHOD_COST = {"cnn2d": 4.0, "svm_histogram": 0.2, "svm_psd": 1.5}
_ORDER_COST = {1: 1.0, 2: 2.3}


def _cost(cell: tuple[str, int | None, int, float]) -> float:
    method, k, order, _ = cell
    base = (6.0 + 0.25 * k) if k is not None else _METHOD_COST.get(method, 1.0)
    return base * _ORDER_COST.get(order, 8.0)


def _test_noise(x: NDArray, noise: float, sigma: float, seed: int) -> NDArray:
    return data.add_noise(x, noise, sigma, np.random.default_rng([seed, 99, int(10 * noise)]))


def _cell(
    cfg: Config,
    split: data.Split,
    method: str,
    k: int | None,
    order: int,
    noise: float,
    sigma: float,
) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(cfg.seed)  # every model's initial weights, whatever ran before
    x_test = _test_noise(split.x_test, noise, sigma, cfg.seed) / sigma
    x_train = split.x_train
    t0 = time.perf_counter()
    if method.startswith("svm"):
        rng = np.random.default_rng([cfg.seed, 5, int(10 * noise)])
        xtr = data.add_noise(x_train, noise, sigma, rng) / sigma
        if method == "svm_histogram":
            lim = 5.0 * math.sqrt(1 + noise**2)
            edges = np.linspace(-lim, lim, 41)
            ftr, fte = (
                baselines.histogram_features(xtr, edges),
                baselines.histogram_features(x_test, edges),
            )
        else:
            ftr = baselines.psd_features(xtr, cfg.nside, order)
            fte = baselines.psd_features(x_test, cfg.nside, order)
        acc = baselines.svm_accuracy(ftr, split.y_train, fte, split.y_test, cfg.seed)
        seconds, infer_ms = time.perf_counter() - t0, float("nan")
    else:
        n_pix = x_train.shape[1]
        depth = models.depth_for(n_pix, max(cfg.ks))
        model: torch.nn.Module
        if method == "cnn2d":
            model = models.Image2dCNN(
                math.isqrt(n_pix), data.zorder_permutation(cfg.nside, order), depth, cfg.width
            )
        else:
            if k is None:
                raise ValueError(f"{method} needs a k.")
            model = models.deepsphere(
                method.split("_")[1],
                data.patch_sampling(cfg.nside, order),
                k,
                depth,
                cfg.width,
                cfg.kernel_size,
            )
        rng = np.random.default_rng([cfg.seed, 6, int(10 * noise)])

        def augment(xb: NDArray) -> NDArray:
            return data.add_noise(xb, noise, sigma, rng) / sigma

        seconds = models.train(
            model,
            x_train,
            split.y_train,
            epochs=cfg.epochs,
            batch=cfg.batch,
            augment=augment,
            seed=cfg.seed,
        )
        t1 = time.perf_counter()
        pred = models.predict(model, x_test).argmax(1)
        infer_ms = 1000 * (time.perf_counter() - t1) / len(x_test)
        acc = float(np.mean(pred == split.y_test))
    return {
        "method": method,
        "k": k,
        "order": order,
        "noise": float(noise),
        "accuracy": acc,
        "n_test": len(split.y_test),
        "seconds": round(seconds, 2),
        "infer_ms": None if math.isnan(infer_ms) else round(infer_ms, 4),
    }


def _label(r: dict) -> str:
    return r["method"] + (f" k={r['k']}" if r["k"] is not None else "")


def markdown_table(results: list[dict]) -> str:
    """Accuracy (%) per method (rows) and (order, noise) (columns), plus mean training seconds."""
    cols = sorted({(r["order"], r["noise"]) for r in results})
    labels = list(
        dict.fromkeys(
            _label(r)
            for r in sorted(results, key=lambda r: (METHODS.index(r["method"]), r["k"] or 0))
        )
    )
    acc = {(_label(r), r["order"], r["noise"]): r for r in results}
    head = "| method | " + " | ".join(f"o{o} n{n:g}" for o, n in cols) + " | train s (mean) |"
    lines = [head, "|---" * (len(cols) + 2) + "|"]
    for lab in labels:
        cells = [acc.get((lab, o, n)) for o, n in cols]
        secs = [c["seconds"] for c in cells if c]
        lines.append(
            f"| {lab} | "
            + " | ".join(f"{100 * c['accuracy']:.1f}" if c else "" for c in cells)
            + f" | {np.mean(secs):.1f} |"
        )
    return "\n".join(lines) + "\n"


def figure(results: list[dict], path: str | Path) -> None:
    """Accuracy against noise level, one panel per order, one line per method (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    orders = sorted({r["order"] for r in results})
    fig, axes = plt.subplots(
        1, len(orders), figsize=(4.2 * len(orders), 3.6), squeeze=False, sharey=True
    )
    labels = list(
        dict.fromkeys(
            _label(r)
            for r in sorted(results, key=lambda r: (METHODS.index(r["method"]), r["k"] or 0))
        )
    )
    for ax, order in zip(axes[0], orders, strict=True):
        for lab in labels:
            rs = sorted(
                (r for r in results if r["order"] == order and _label(r) == lab),
                key=lambda r: r["noise"],
            )
            if rs:
                ax.plot(
                    [r["noise"] for r in rs],
                    [100 * r["accuracy"] for r in rs],
                    "o-",
                    label=lab,
                    ms=3,
                )
        ax.axhline(50, color="grey", lw=0.5)
        ax.set(
            title=f"order {order} ({12 * order**2} patches / map)", xlabel="relative noise level"
        )
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""Regression of (Omega_m, sigma_8) of a continuous family of maps from several channels.

Each sample is a full-sky map set of one cosmology drawn from
:func:`cosmo_exp.maps.family_params`, with ``n_channels`` channels (independent
realisations, like tomographic bins or independent fields of the same cosmology;
channel ``c`` has a shift scaled by ``1 + 0.5 c``, i.e. a different non-Gaussianity).
The spectrum amplitude depends on ``sigma_8 sqrt(Omega_m)`` only, the lognormal shift on
``Omega_m`` only: a power-spectrum regressor sees only the degenerate combination,
a network that reads the non-Gaussianity can separate the two parameters.

A :class:`sphere_unet.SphericalClassifier` with ``n_outputs=2`` (mean-squared error on
standardised parameters) is compared with a ridge regressor on the channels'
log power spectra.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import healpy as hp
import numpy as np
import sphere_graphs as sg
import torch
from numpy.typing import NDArray
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sphere_unet import SphericalClassifier

from . import maps, models

__all__ = ["RegressionConfig", "family_maps", "run_regression"]


@dataclass
class RegressionConfig:
    """Settings of the regression task."""

    nside: int = 16
    n_train: int = 400
    n_test: int = 100
    n_channels: int = 2
    shape: float = 0.5
    epochs: int = 30
    width: int = 16
    k: int = 8
    seed: int = 1

    @classmethod
    def quick(cls) -> RegressionConfig:
        return cls(nside=8, n_train=64, n_test=32, epochs=3, width=8)


def family_maps(
    nside: int, params: NDArray[np.float64], n_channels: int, shape: float, seed: int
) -> NDArray[np.float32]:
    """Maps ``(N, 12 nside**2, n_channels)`` (NESTED) of the cosmologies ``params`` ``(N, 2)``."""
    cl = maps.target_cl(nside)
    out = np.empty((len(params), 12 * nside * nside, n_channels), dtype=np.float32)
    for i, (om, s8) in enumerate(params):
        cosmo = maps.Cosmology("sample", float(om), float(s8))
        for c in range(n_channels):
            lam = cosmo.shift(shape) * (1 + 0.5 * c)
            cl_g = maps.gaussian_cl(cl * cosmo.amplitude(), lam)
            out[i, :, c] = maps.lognormal_map(
                maps.unit_alm(nside, seed, i * n_channels + c), cl_g, lam, nside
            )
    return out


def _psd(x: NDArray[np.float32], nside: int) -> NDArray[np.float64]:
    feats = []
    for sample in x:
        f = [
            np.log(
                hp.anafast(hp.reorder(sample[:, c].astype(np.float64), n2r=True), lmax=2 * nside)[
                    2:
                ]
            )
            for c in range(x.shape[2])
        ]
        feats.append(np.concatenate(f))
    return np.asarray(feats)


def run_regression(cfg: RegressionConfig, log: Callable[[str], Any] = print) -> dict:
    """Train both regressors and return their test errors.

    Returns
    -------
    dict
        ``{"deepsphere": {"rmse": [om, s8], "seconds": s}, "psd_ridge": {...},
        "prior_std": [om, s8], "n_train", "n_test", "n_channels", "nside"}``; errors are
        root-mean-square errors in parameter units (the prior std is the error of
        always predicting the mean).
    """
    torch.set_num_threads(1)
    p_tr = maps.family_params(cfg.n_train, cfg.seed)
    p_te = maps.family_params(cfg.n_test, cfg.seed + 1000)
    x_tr = family_maps(cfg.nside, p_tr, cfg.n_channels, cfg.shape, cfg.seed)
    x_te = family_maps(cfg.nside, p_te, cfg.n_channels, cfg.shape, cfg.seed + 1000)
    mu, sd = p_tr.mean(0), p_tr.std(0)
    scale = float(x_tr.std())
    result: dict = {
        "prior_std": p_te.std(0).tolist(),
        "n_train": cfg.n_train,
        "n_test": cfg.n_test,
        "n_channels": cfg.n_channels,
        "nside": cfg.nside,
    }

    t0 = time.perf_counter()
    ridge = make_pipeline(StandardScaler(), PolynomialFeatures(2), RidgeCV(np.logspace(-3, 3, 13)))
    ridge.fit(_psd(x_tr, cfg.nside), p_tr)
    pred = ridge.predict(_psd(x_te, cfg.nside))
    result["psd_ridge"] = {
        "rmse": np.sqrt(((pred - p_te) ** 2).mean(0)).tolist(),
        "seconds": round(time.perf_counter() - t0, 2),
    }

    torch.manual_seed(cfg.seed)
    sampling = sg.healpix(cfg.nside, nest=True)
    depth = min(3, sg.max_depth(sampling) - 1)
    model = SphericalClassifier(
        sampling,
        cfg.n_channels,
        2,
        depth,
        k=cfg.k,
        channels=[[min(cfg.width * 2**i, 4 * cfg.width)] for i in range(depth + 1)],
        kernel_size=5,
    )
    secs = models.train(
        model,
        x_tr / scale,
        (p_tr - mu) / sd,
        epochs=cfg.epochs,
        batch=16,
        loss="mse",
        seed=cfg.seed,
    )
    pred = models.predict(model, x_te / scale) * sd + mu
    result["deepsphere"] = {
        "rmse": np.sqrt(((pred - p_te) ** 2).mean(0)).tolist(),
        "seconds": round(secs, 2),
    }
    result["predictions"] = {"true": p_te.tolist(), "deepsphere": pred.tolist()}
    for name in ("psd_ridge", "deepsphere"):
        log(
            f"{name:10s} RMSE Omega_m {result[name]['rmse'][0]:.4f}  sigma_8 "
            f"{result[name]['rmse'][1]:.4f}  ({result[name]['seconds']:.1f} s)"
        )
    log(f"prior std  Omega_m {result['prior_std'][0]:.4f}  sigma_8 {result['prior_std'][1]:.4f}")
    return result


def figure(result: dict, path: str | Path) -> None:
    """Predicted against true parameters of the DeepSphere regressor (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    true = np.asarray(result["predictions"]["true"])
    pred = np.asarray(result["predictions"]["deepsphere"])
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    for j, (ax, name) in enumerate(zip(axes, ("Omega_m", "sigma_8"), strict=True)):
        ax.scatter(true[:, j], pred[:, j], s=8)
        lo, hi = true[:, j].min(), true[:, j].max()
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set(
            xlabel=f"true {name}",
            ylabel=f"predicted {name}",
            title=f"{name}: RMSE {result['deepsphere']['rmse'][j]:.3f} "
            f"(PSD {result['psd_ridge']['rmse'][j]:.3f})",
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

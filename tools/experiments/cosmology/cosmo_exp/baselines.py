"""Baselines on hand-made features: SVMs on pixel histograms and on power spectral densities."""

from __future__ import annotations

import healpy as hp
import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

__all__ = ["histogram_features", "psd_features", "svm_accuracy"]


def histogram_features(x: NDArray[np.floating], edges: NDArray[np.float64]) -> NDArray[np.float64]:
    """Normalised pixel histograms of patches ``x`` ``(N, V)`` over ``edges`` ``(B + 1,)``.

    Values outside the range fall in the first / last bin. Returns ``(N, B)``.
    """
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    out = np.zeros((x.shape[0], len(edges) - 1))
    np.add.at(out, (np.repeat(np.arange(x.shape[0]), x.shape[1]), idx.ravel()), 1.0)
    return out / x.shape[1]


def psd_features(x: NDArray[np.floating], nside: int, order: int) -> NDArray[np.float64]:
    """Log power spectral density of each patch, multipoles ``2 .. 2 nside``, in 3-l bins.

    Each patch is placed in an otherwise empty NESTED full-sky map (its own position,
    patches of a map are ``12 order**2`` consecutive ones) and analysed with
    ``healpy.anafast`` (pseudo-spectrum of the masked sky, as in the paper).

    Parameters
    ----------
    x : ndarray, shape (N, V) with ``N`` a multiple of ``12 order**2`` (whole maps)

    Returns
    -------
    ndarray, shape (N, F)
    """
    n_pix = x.shape[1]
    n_patch = 12 * order * order
    lmax = 2 * nside
    full = np.zeros(12 * nside * nside)
    feats = []
    for i, patch in enumerate(x):
        p = i % n_patch
        full[:] = 0.0
        full[p * n_pix : (p + 1) * n_pix] = patch
        cl = hp.anafast(hp.reorder(full, n2r=True), lmax=lmax, use_pixel_weights=False)[2:]
        n_bins = len(cl) // 3
        feats.append(np.log(cl[: 3 * n_bins].reshape(n_bins, 3).mean(1) + 1e-30))
    return np.asarray(feats)


def svm_accuracy(
    f_train: NDArray, y_train: NDArray, f_test: NDArray, y_test: NDArray, seed: int = 0
) -> float:
    """Accuracy of a standardised RBF SVM, ``C`` chosen by 3-fold cross-validation."""
    clf = GridSearchCV(
        make_pipeline(StandardScaler(), SVC(kernel="rbf")), {"svc__C": [0.1, 1.0, 10.0]}, cv=3
    )
    rng = np.random.default_rng(seed)
    sub = rng.permutation(len(f_train))[:4000]  # SVMs scale quadratically
    clf.fit(f_train[sub], y_train[sub])
    return float(np.mean(clf.predict(f_test) == y_test))

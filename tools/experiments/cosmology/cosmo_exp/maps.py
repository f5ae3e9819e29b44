"""Full-sky convergence-like maps of two cosmologies with matched power spectra.

Model
-----
Weak-lensing convergence ``kappa`` is close to a *shifted lognormal* field
(Taruya et al. 2002; Hilbert et al. 2011)::

    kappa = lam * (exp(g - var_g / 2) - 1),

with ``g`` a zero-mean Gaussian field of variance ``var_g``. Then ``E[kappa] = 0``
and the two-point correlation functions are related by::

    xi_kappa(theta) = lam**2 * (exp(xi_g(theta)) - 1)
    xi_g(theta)     = log(1 + xi_kappa(theta) / lam**2).

Given ONE target angular power spectrum ``C_kappa(l)`` shared by both classes, we go
``C_kappa -> xi_kappa`` (Legendre sum), ``xi_kappa -> xi_g`` (the relation above, with
the class's shift ``lam``), ``xi_g -> C_g`` (Gauss-Legendre quadrature), draw ``g``
from ``C_g`` and exponentiate. Both classes therefore have the power spectrum
``C_kappa`` in expectation, while the skewness, ``r (3 + r**2)`` with
``r = sigma_kappa / lam``, depends on the class.

Relation to (Omega_m, sigma_8)
------------------------------
The shift ``lam`` is (minus) the smallest possible convergence, that of an empty
line of sight; it is proportional to the matter density: ``lam ∝ Omega_m``. The
power-spectrum amplitude scales approximately as ``(sigma_8 * Omega_m**0.5)**2``,
which is nearly equal for the paper's two models (0.31, 0.82) and (0.26, 0.91)
(0.457 and 0.464); as in the paper the spectra are made *exactly* equal (there by
smoothing, here by construction). The lower-``Omega_m``, higher-``sigma_8`` model has
the smaller shift and is the more skewed one, as in N-body simulations. The shift
of the reference model (0.31, 0.82) is ``sigma_kappa / shape``; ``shape`` (default
0.7) sets how non-Gaussian the maps are and thus how hard the task is. The
continuous family used for regression (:func:`family_params`) scales the spectrum
by ``(sigma_8 * sqrt(Omega_m) / S_REF)**2`` and the shift by ``Omega_m / 0.31``.

Initial conditions
------------------
Map ``i`` of every class uses the same unit-variance Gaussian harmonic coefficients
(seeded by ``(seed, i)``), scaled by the class's ``sqrt(C_g)``: only the cosmology
differs, as in the original simulations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import healpy as hp
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CLASSES",
    "S_REF",
    "Cosmology",
    "family_params",
    "gaussian_cl",
    "generate_maps",
    "lognormal_map",
    "read_maps",
    "target_cl",
    "unit_alm",
    "write_maps",
]

SIGMA_KAPPA = 0.01  # standard deviation of every map (before pixel effects)
S_REF = 0.82 * 0.31**0.5


@dataclass(frozen=True)
class Cosmology:
    """A cosmological model: name, ``Omega_m`` and ``sigma_8``."""

    name: str
    omega_m: float
    sigma_8: float

    def shift(self, shape: float = 0.7, sigma_kappa: float = SIGMA_KAPPA) -> float:
        """Lognormal shift ``lam = sigma_kappa / shape * Omega_m / 0.31``."""
        return sigma_kappa / shape * self.omega_m / 0.31

    def amplitude(self) -> float:
        """Spectrum amplitude relative to the reference model, ``(sigma_8 sqrt(Omega_m) / S_REF)**2``."""
        return (self.sigma_8 * self.omega_m**0.5 / S_REF) ** 2


CLASSES = (Cosmology("model1", 0.31, 0.82), Cosmology("model2", 0.26, 0.91))


def _lmax(nside: int) -> int:
    return 3 * int(nside) - 1


def target_cl(nside: int, sigma_kappa: float = SIGMA_KAPPA) -> NDArray[np.float64]:
    """Shared target spectrum ``C_kappa(l)``, ``l = 0 .. 3 nside - 1``.

    ``C(l) ∝ exp(-l / l0) / (1 + (l / l0)**2)`` with ``l0 = nside``: the exponential
    damping (a smoothing, as in the paper) leaves ``C(3 nside) / C(2) ~ 5e-3`` so the
    maps are nearly band-limited at the pixel scale, and unlike a Gaussian beam it
    keeps the lognormal model realisable (``C_g >= 0``) for the default ``shape``.
    ``C(0) = C(1) = 0``; normalised so that ``sum (2l+1)/(4 pi) C(l) = sigma_kappa**2``.

    Returns
    -------
    ndarray, shape (3 nside,)
    """
    ell = np.arange(_lmax(nside) + 1, dtype=np.float64)
    l0 = float(nside)
    cl = np.exp(-ell / l0) / (1.0 + (ell / l0) ** 2)
    cl[:2] = 0.0
    var = np.sum((2 * ell + 1) / (4 * np.pi) * cl)
    return cl * sigma_kappa**2 / var


def _legendre_table(lmax: int, mu: NDArray[np.float64]) -> NDArray[np.float64]:
    """``P_l(mu)`` for ``l = 0..lmax``, shape ``(lmax + 1, len(mu))`` (recurrence)."""
    p = np.empty((lmax + 1, mu.size))
    p[0] = 1.0
    if lmax >= 1:
        p[1] = mu
    for ell in range(2, lmax + 1):
        p[ell] = ((2 * ell - 1) * mu * p[ell - 1] - (ell - 1) * p[ell - 2]) / ell
    return p


def gaussian_cl(cl_kappa: NDArray[np.float64], shift: float) -> NDArray[np.float64]:
    """Spectrum ``C_g`` of the Gaussian field whose shifted-lognormal transform has ``cl_kappa``.

    Parameters
    ----------
    cl_kappa : ndarray, shape (lmax + 1,)
    shift : float
        Lognormal shift ``lam > 0``.

    Returns
    -------
    ndarray, shape (lmax + 1,)

    Raises
    ------
    ValueError
        If the target is not realisable with this shift (``C_g`` clearly negative).
    """
    cl_kappa = np.asarray(cl_kappa, dtype=np.float64)
    if not shift > 0:
        raise ValueError(f"shift must be positive; got {shift}.")
    lmax = cl_kappa.size - 1
    mu, w = np.polynomial.legendre.leggauss(2 * lmax + 2)
    p = _legendre_table(lmax, mu)
    ell = np.arange(lmax + 1)
    xi_k = ((2 * ell + 1) / (4 * np.pi) * cl_kappa) @ p
    arg = 1.0 + xi_k / shift**2
    if np.any(arg <= 0):
        raise ValueError(f"shift {shift} too small for this spectrum (1 + xi / lam^2 <= 0).")
    xi_g = np.log(arg)
    cl_g = 2 * np.pi * (p * w) @ xi_g
    # l = 0, 1: xi_kappa has no monopole / dipole but its log does; they are dropped
    # below (a constant and a dipole of g), which changes kappa only negligibly.
    if np.any(cl_g[2:] < 0):
        raise ValueError(
            "the lognormal model is not realisable: C_g has negative multipoles; "
            "use a smaller shape parameter (less non-Gaussian maps)."
        )
    cl_g = np.maximum(cl_g, 0.0)
    cl_g[:2] = 0.0  # no monopole / dipole, as in the target
    return cl_g


def unit_alm(nside: int, seed: int, index: int) -> NDArray[np.complex128]:
    """Unit-variance Gaussian harmonic coefficients of map ``index`` (healpy layout).

    Returns
    -------
    ndarray of complex, shape (Alm.getsize(3 nside - 1),)
    """
    lmax = _lmax(nside)
    rng = np.random.default_rng([int(seed), int(index)])
    n = hp.Alm.getsize(lmax)
    _, m = hp.Alm.getlm(lmax)
    z = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2.0)
    z[m == 0] = np.sqrt(2.0) * z[m == 0].real
    return z


def lognormal_map(
    z: NDArray[np.complex128], cl_g: NDArray[np.float64], shift: float, nside: int
) -> NDArray[np.float32]:
    """Shifted-lognormal map from unit coefficients ``z``, NESTED order, zero mean.

    Returns
    -------
    ndarray, shape (12 nside**2,), float32
        ``lam (exp(g - var_g/2) - 1)`` with the monopole of the realisation removed
        (every map has mean exactly 0 up to float32 rounding).
    """
    lmax = cl_g.size - 1
    alm = hp.almxfl(z, np.sqrt(cl_g))
    g = hp.alm2map(alm, int(nside), lmax=lmax)
    var_g = float(np.sum((2 * np.arange(lmax + 1) + 1) / (4 * np.pi) * cl_g))
    kappa = shift * np.expm1(g - var_g / 2)
    kappa = hp.reorder(kappa, r2n=True)
    kappa -= kappa.mean()
    return kappa.astype(np.float32)


def generate_maps(
    nside: int,
    n_maps: int,
    seed: int,
    shape: float = 0.7,
    classes: tuple[Cosmology, ...] = CLASSES,
) -> dict[str, NDArray[np.float32]]:
    """Maps of every class, map ``i`` of each class from the same Gaussian seed.

    Parameters
    ----------
    nside : int
        HEALPix resolution (power of two).
    n_maps : int
        Maps per class.
    seed : int
    shape : float
        ``sigma_kappa / lam`` of the reference model (non-Gaussianity).

    Returns
    -------
    dict name -> ndarray, shape (n_maps, 12 nside**2), float32, NESTED
    """
    if nside < 1 or nside & (nside - 1):
        raise ValueError(f"nside must be a power of two (NESTED maps); got {nside}.")
    if n_maps < 1:
        raise ValueError(f"n_maps must be >= 1; got {n_maps}.")
    cl = target_cl(nside)
    out = {}
    for c in classes:
        lam = c.shift(shape)
        cl_g = gaussian_cl(cl, lam)  # the same target spectrum for every class
        out[c.name] = np.stack(
            [lognormal_map(unit_alm(nside, seed, i), cl_g, lam, nside) for i in range(n_maps)]
        )
    return out


def family_params(n: int, seed: int) -> NDArray[np.float64]:
    """``n`` draws of ``(Omega_m, sigma_8)`` uniform in ``[0.22, 0.36] x [0.72, 0.96]``.

    Returns
    -------
    ndarray, shape (n, 2)
    """
    rng = np.random.default_rng([int(seed), 7])
    return np.column_stack([rng.uniform(0.22, 0.36, n), rng.uniform(0.72, 0.96, n)])


def write_maps(out: str | Path, nside: int, n_maps: int, seed: int, shape: float = 0.7) -> Path:
    """Write ``meta.json`` and ``<class>/map-XXXX.npy`` under ``out``; returns ``out``."""
    out = Path(out)
    maps = generate_maps(nside, n_maps, seed, shape)
    for c in CLASSES:
        d = out / c.name
        d.mkdir(parents=True, exist_ok=True)
        for i, m in enumerate(maps[c.name]):
            np.save(d / f"map-{i:04d}.npy", m)
    meta = {
        "nside": int(nside),
        "ordering": "NESTED",
        "n_maps": int(n_maps),
        "seed": int(seed),
        "shape": float(shape),
        "sigma_kappa": SIGMA_KAPPA,
        "mean": 0.0,
        "model": "shifted lognormal, shared target spectrum (see cosmo_exp/maps.py)",
        "classes": [
            {"name": c.name, "omega_m": c.omega_m, "sigma_8": c.sigma_8, "shift": c.shift(shape)}
            for c in CLASSES
        ],
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out


def read_maps(path: str | Path) -> tuple[dict, dict[str, NDArray[np.float32]]]:
    """Read what :func:`write_maps` wrote: ``(meta, {class: (n_maps, V) array})``."""
    path = Path(path)
    meta = json.loads((path / "meta.json").read_text())
    maps = {}
    for c in meta["classes"]:
        files = sorted((path / c["name"]).glob("map-*.npy"))
        maps[c["name"]] = np.stack([np.load(f) for f in files])
    return meta, maps

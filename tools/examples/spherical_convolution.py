"""Spherical convolution with a graph: Chebyshev filtering of a map and heat diffusion.

A HEALPix map is filtered with ``cheb_conv.cheb_conv`` on the rescaled Laplacian of
a k-NN graph (``sphere_graphs.knn_graph``, published kernel width): a few fixed
Chebyshev filters (low-pass, band-pass, high-pass), and the heat kernel
``exp(-t L)`` approximated by its Chebyshev expansion, applied to a point source
for several diffusion times. Writes ``convolution_filters.png`` and
``convolution_heat.png``.

    python tools/examples/spherical_convolution.py --out DIR [--quick]
"""

from __future__ import annotations

from collections.abc import Callable

import _common
import cheb_conv
import healpy as hp
import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
import sphere_graphs as sg
import torch
from cosmo_exp import maps
from numpy.polynomial import chebyshev as C

__all__ = ["chebyshev_coefficients", "filter_map", "graph_operator", "heat"]


def graph_operator(nside: int, k: int = 8) -> tuple[sp.csr_matrix, float]:
    """Combinatorial Laplacian ``L`` (scipy CSR) of a HEALPix k-NN graph and its ``lmax``."""
    graph = sg.knn_graph(sg.healpix(nside, nest=True), k=k)
    lap = graph.laplacian("combinatorial")
    return lap, float(sg.estimate_lmax(lap))


def chebyshev_coefficients(
    response: Callable[[np.ndarray], np.ndarray], lmax: float, order: int
) -> np.ndarray:
    """Coefficients ``c_k`` with ``response(lam) ~ sum c_k T_k(2 lam / lmax - 1)`` on ``[0, lmax]``."""
    return C.chebinterpolate(lambda u: response((u + 1) * lmax / 2), order)


def filter_map(x: np.ndarray, lap: sp.spmatrix, lmax: float, coeffs: np.ndarray) -> np.ndarray:
    """Apply ``sum_k c_k T_k(L~)`` to maps ``x`` ``(V, F)`` with ``cheb_conv.cheb_conv``.

    One filter per column: the weight is diagonal, ``weight[k] = c_k I``.
    Returns ``(V, F)``.
    """
    op = cheb_conv.rescale(lap, lmax)
    x_t = torch.as_tensor(x, dtype=torch.float64)
    f = x_t.shape[1]
    weight = torch.as_tensor(coeffs, dtype=torch.float64)[:, None, None] * torch.eye(
        f, dtype=torch.float64
    )
    return cheb_conv.cheb_conv(x_t, cheb_conv.as_operator(op, torch.float64), weight).numpy()


def heat(t: float) -> Callable[[np.ndarray], np.ndarray]:
    """Graph-spectral response ``exp(-t lambda)`` of heat diffusion for a time ``t``."""
    return lambda lam: np.exp(-t * lam)


def main(argv: list[str] | None = None) -> None:
    args = _common.parse(__doc__, argv)
    nside = 8 if args.quick else 32
    lap, lmax = graph_operator(nside)
    npix = 12 * nside**2
    ell = np.arange(3 * nside)
    alm = hp.almxfl(maps.unit_alm(nside, seed=0, index=0), 1.0 / np.sqrt(1.0 + ell))
    signal = hp.reorder(hp.alm2map(alm, nside), r2n=True)  # white-ish Gaussian map

    # fixed Chebyshev filters, defined by their graph-spectral responses
    responses = {
        "low-pass": lambda lam: np.exp(-4 * lam / lmax * 10),
        "band-pass": lambda lam: np.exp(-((lam / lmax - 0.15) ** 2) / 0.003),
        "high-pass": lambda lam: 1 - np.exp(-4 * lam / lmax * 3),
    }
    order = 20
    coeffs = {n: chebyshev_coefficients(r, lmax, order) for n, r in responses.items()}
    out = {n: filter_map(signal[:, None], lap, lmax, c)[:, 0] for n, c in coeffs.items()}

    fig = plt.figure(figsize=(12, 6.5))
    hp.mollview(signal, nest=True, fig=fig.number, sub=(2, 2, 1), title="input map", cbar=False)
    for i, (name, y) in enumerate(out.items()):
        hp.mollview(
            y,
            nest=True,
            fig=fig.number,
            sub=(2, 2, i + 2),
            title=f"{name} (Chebyshev, K={order + 1})",
            cbar=False,
        )
    fig.savefig(args.out / "convolution_filters.png", dpi=90)
    plt.close(fig)

    # heat diffusion exp(-t L) of a point source
    delta = np.zeros((npix, 1))
    delta[hp.ang2pix(nside, np.pi / 3, 1.0, nest=True), 0] = 1.0
    times = [t / lmax for t in (2.0, 8.0, 32.0)]
    fig = plt.figure(figsize=(12, 3.6))
    lam = np.linspace(0, lmax, 200)
    ax = fig.add_subplot(1, 4, 1)
    for t in times:
        c = chebyshev_coefficients(heat(t), lmax, 30)
        ax.plot(lam, np.exp(-t * lam), label=f"{t * lmax:g} / lmax")
        ax.plot(lam, C.chebval(2 * lam / lmax - 1, c), "k:", lw=0.8)
    ax.set(xlabel="graph eigenvalue", ylabel="response", title="heat kernel exp(-t L)")
    ax.legend(fontsize=7)
    for i, t in enumerate(times):
        c = chebyshev_coefficients(heat(t), lmax, 30)
        y = filter_map(delta, lap, lmax, c)[:, 0]
        hp.orthview(
            y,
            nest=True,
            rot=(np.degrees(1.0), 30),
            half_sky=True,
            fig=fig.number,
            sub=(1, 4, i + 2),
            title=f"diffused point, t lmax = {t * lmax:g}",
            cbar=False,
        )
    fig.savefig(args.out / "convolution_heat.png", dpi=90)
    plt.close(fig)
    print(f"wrote {args.out / 'convolution_filters.png'} and {args.out / 'convolution_heat.png'}")


if __name__ == "__main__":
    main()

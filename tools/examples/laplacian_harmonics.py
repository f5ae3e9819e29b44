"""Graph Laplacian eigenvectors against spherical harmonics on HEALPix.

The eigenvalues of the Laplacian of a HEALPix k-NN graph come in groups of
``2 l + 1`` (the multiplicity of the sphere's degree-``l`` eigenspace), and its
eigenvectors approximate spherical harmonics. For each degree ``l`` the alignment
``||Y_l^T U_l||_F**2 / (2 l + 1)`` between the ``2 l + 1`` eigenvectors ``U_l`` of the
``l``-th group and the (discretely orthonormalised) real harmonics ``Y_l`` is 1 for a
perfect match. Compared: the k-NN graph with the published kernel width
(``sphere_graphs.healpix_kernel_width``) and the same graph with the naive width (the
mean distance to the k-th neighbour). Writes ``laplacian_spectrum.png`` and
``laplacian_alignment.png``.

    python tools/examples/laplacian_harmonics.py --out DIR [--quick]
"""

from __future__ import annotations

import _common
import matplotlib.pyplot as plt
import numpy as np
import sphere_graphs as sg
from scipy.spatial import cKDTree

__all__ = ["alignment", "degree_energy", "spectrum"]


def spectrum(nside: int, k: int, published: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues ``(V,)``, eigenvectors ``(V, V)`` and coordinates ``(V, 3)`` of a k-NN graph Laplacian."""
    s = sg.healpix(nside, nest=True)
    if published:
        sigma = sg.healpix_kernel_width(nside, k)
    else:
        d, _ = cKDTree(s.coords).query(s.coords, k + 1)
        sigma = float(d[:, k].mean())
    lap = sg.knn_graph(s, k=k, sigma=sigma).laplacian("combinatorial").toarray()
    w, u = np.linalg.eigh(lap)
    return w, u, s.coords


def degree_energy(u: np.ndarray, coords: np.ndarray, lmax: int) -> np.ndarray:
    """Energy ``||Y_l^T u_i||**2`` of the first ``(lmax+1)**2`` eigenvectors on each degree ``l``.

    Returns ``(lmax + 1, (lmax + 1)**2)``; each column sums to at most 1.
    """
    n = (lmax + 1) ** 2
    out = np.empty((lmax + 1, n))
    for ell in range(lmax + 1):
        q, _ = np.linalg.qr(sg.real_spherical_harmonics(coords, ell))
        out[ell] = np.sum((q.T @ u[:, :n]) ** 2, axis=0)
    return out


def alignment(energy: np.ndarray) -> np.ndarray:
    """Per-degree alignment ``(lmax + 1,)``: mean energy of group ``l`` on degree ``l``."""
    lmax = energy.shape[0] - 1
    return np.array([energy[ell, ell**2 : (ell + 1) ** 2].mean() for ell in range(lmax + 1)])


def main(argv: list[str] | None = None) -> None:
    args = _common.parse(__doc__, argv)
    nside, lmax = (4, 6) if args.quick else (16, 16)
    ks = (8,) if args.quick else (8, 20, 40)
    results = {}
    for k in ks:
        for published in (True, False):
            w, u, coords = spectrum(nside, k, published)
            e = degree_energy(u, coords, lmax)
            results[(k, published)] = (w, e, alignment(e))
            print(
                f"k={k:2d} {'published' if published else 'naive    '} width: alignment l=1..{lmax}: "
                + " ".join(f"{a:.2f}" for a in alignment(e)[1:])
            )

    n = (lmax + 1) ** 2
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    w, e, _ = results[(ks[0], True)]
    axes[0].plot(np.arange(n), w[:n] / w[1:4].mean() * 2, ".", ms=3, label="graph (scaled)")
    ells = np.arange(lmax + 1)
    axes[0].step(
        np.arange(n),
        np.repeat(ells * (ells + 1), 2 * ells + 1),
        where="mid",
        label="sphere l (l + 1)",
    )
    for ell in ells:
        axes[0].axvline(ell**2 - 0.5, color="grey", lw=0.3)
    axes[0].set(
        xlabel="eigenvalue index",
        ylabel="eigenvalue",
        title=f"k={ks[0]}, nside={nside}: groups of 2l+1",
    )
    axes[0].legend()
    axes[1].imshow(e, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1)
    axes[1].set(
        xlabel="eigenvector index", ylabel="degree l", title="energy of each eigenvector per degree"
    )
    fig.tight_layout()
    fig.savefig(args.out / "laplacian_spectrum.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for (k, published), (_, _, a) in results.items():
        ax.plot(
            ells[1:],
            a[1:],
            "o-" if published else "x--",
            ms=3,
            label=f"k={k}, {'published' if published else 'naive'} width",
        )
    ax.set(
        xlabel="degree l",
        ylabel="alignment with Y_l",
        ylim=(0, 1.02),
        title=f"HEALPix nside={nside}: eigenspaces vs spherical harmonics",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "laplacian_alignment.png", dpi=100)
    plt.close(fig)
    print(f"wrote {args.out / 'laplacian_spectrum.png'} and {args.out / 'laplacian_alignment.png'}")


if __name__ == "__main__":
    main()

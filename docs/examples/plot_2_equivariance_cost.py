"""
Equivariance against cost: the choice of k
==========================================

A graph convolution is only approximately rotation-equivariant on the sphere: the
graph Laplacian commutes with rotations only as far as the graph resembles the
continuous Laplace-Beltrami operator. DeepSphere measures this with the
*equivariance error* ``E`` (``sphere_graphs.equivariance_error``): random signals of
one spherical-harmonic degree ``l`` are filtered and rotated in both orders, and
``E`` is the relative difference. More neighbours (larger ``k``) lower ``E`` but
make the Laplacian denser, and every convolution costs in proportion to its
non-zeros.

Small sizes here (about 700 vertices, ``l = 8``); the published figures use
HEALPix ``nside = 32`` and ``l = 30`` (``python tools/scripts/tune_kernel_widths.py``
in the repository tunes the widths at that size).
"""

import time

import matplotlib.pyplot as plt
import numpy as np
import sphere_graphs as sg

DEGREE = 8
KS = [4, 8, 12, 20, 40]
samplings = {
    "HEALPix nside 8": sg.healpix(8),
    "icosahedral level 3": sg.icosahedral(3),
    "equiangular 20 x 40": sg.equiangular(20, 40),
    "Gauss-Legendre 20 x 40": sg.gauss_legendre(20, 40),
    "cubed sphere n 11": sg.cubed_sphere(11),
}


def product_time(L, channels=16, repeat=50):
    """Median time of one Laplacian product with a (V, channels) signal."""
    x = np.random.default_rng(0).standard_normal((L.shape[0], channels))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        L @ x
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# %%
# One probe per sampling (fixed signals and rotations), scored for every k; the
# k-NN graphs use each sampling's default kernel width.
results = {}
for name, s in samplings.items():
    probe = sg.EquivarianceProbe(s, degree=DEGREE, n_samples=4, seed=0)
    rows = []
    for k in KS:
        L = sg.knn_graph(s, k=k).laplacian("normalized")
        rows.append((k, probe.error(L), L.nnz / s.n_vertices, product_time(L)))
    results[name] = np.array(rows)
    print(
        name,
        f"({s.n_vertices} vertices):",
        ", ".join(f"k={int(k)} E={e:.3f}" for k, e, _, _ in rows),
    )

# %%
# The trade-off
# -------------
# Left: the equivariance error falls with ``k`` on every sampling. Middle: the cost
# of one convolution step (a sparse product) grows with the non-zeros per row,
# about ``k + 1``. Right: both together; the lower left is better.
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
for i, (name, r) in enumerate(results.items()):
    style = dict(marker="o", color=f"C{i}", label=name)
    axes[0].plot(r[:, 0], r[:, 1], **style)
    axes[1].plot(r[:, 0], r[:, 3] * 1e6, **style)
    axes[2].plot(r[:, 3] * 1e6, r[:, 1], **style)
axes[0].set(xlabel="k", ylabel=f"equivariance error E (l = {DEGREE})", yscale="log")
axes[1].set(xlabel="k", ylabel="time of L @ x, (V, 16), µs")
axes[2].set(xlabel="time of L @ x, µs", ylabel="E", yscale="log")
axes[0].legend(fontsize=7)
fig.tight_layout()
plt.show()

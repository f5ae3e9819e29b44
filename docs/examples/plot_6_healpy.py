"""
For healpy users: orderings, maps and pooling
=============================================

``sphere_graphs`` does its own HEALPix index arithmetic (numpy only; healpy is not a
dependency), with healpy's conventions except one default: **pixels are NESTED
unless you say otherwise** (healpy defaults to RING), because pooling in the NESTED
order is a reshape. Every statement below is checked against healpy when this page
is built.
"""

import healpy as hp
import matplotlib.pyplot as plt
import numpy as np
import sphere_graphs as sg
import sphere_pool
import torch

nside = 8
npix = 12 * nside**2
ipix = np.arange(npix)

# %%
# Coordinates
# -----------
# ``sg.pix2vec`` returns an ``(N, 3)`` array (healpy: a tuple of three arrays);
# samplings give ``lon`` and ``lat`` in radians (healpy: colatitude ``theta`` and
# ``phi``, so ``lat = pi / 2 - theta`` and ``lon = phi``).
s = sg.healpix(nside)  # NESTED
theta, phi = hp.pix2ang(nside, ipix, nest=True)
assert np.allclose(sg.pix2vec(nside, ipix), np.array(hp.pix2vec(nside, ipix, nest=True)).T)
assert np.allclose(s.lat, np.pi / 2 - theta) and np.allclose(s.lon, phi)
assert np.allclose(sg.healpix(nside, nest=False).coords, np.array(hp.pix2vec(nside, ipix)).T)

# %%
# Orderings and neighbours
# ------------------------
# ``ring2nest`` / ``nest2ring`` are healpy's. A RING map becomes a NESTED one by
# indexing (``hp.reorder(m, r2n=True)`` does the same). ``sg.neighbours`` is
# ``hp.get_all_neighbours`` transposed to ``(N, 8)`` (SW, W, NW, N, NE, E, SE, S;
# -1 where a pixel has only 7 neighbours).
theta_r, phi_r = hp.pix2ang(nside, ipix)  # RING positions
m_ring = np.cos(3 * phi_r) * np.sin(theta_r) ** 3  # a RING map, as hp.read_map returns it
m_nest = m_ring[sg.nest2ring(nside, ipix)]
assert np.allclose(m_nest, np.cos(3 * phi) * np.sin(theta) ** 3)  # the same field, NESTED
assert np.allclose(m_nest, hp.reorder(m_ring, r2n=True))
assert np.array_equal(sg.ring2nest(nside, ipix), hp.ring2nest(nside, ipix))
assert np.array_equal(sg.neighbours(nside, ipix), hp.get_all_neighbours(nside, ipix, nest=True).T)

# %%
# Maps as tensors
# ---------------
# healpy maps are ``(npix,)`` or ``(n_maps, npix)``; the layers take
# ``(batch, vertices, channels)``. Average pooling of a NESTED map is
# ``hp.ud_grade(m, nside // 2, order_in="NEST")``.
x = torch.tensor(np.stack([m_nest, m_nest**2]).T[None])  # (1, npix, 2)
pool, unpool = sphere_pool.for_sampling(s, mode="avg")
y = pool(x)
assert np.allclose(y[0, :, 0].numpy(), hp.ud_grade(m_nest, nside // 2, order_in="NEST"))
print("input", tuple(x.shape), "-> pooled", tuple(y.shape))

# %%
# A partial sky is a sampling of selected NESTED pixels (``indices``); its graph and
# pooling only see those pixels.
patch = sg.healpix(nside, indices=np.arange(npix // 12))  # the first base pixel
print(patch, patch.n_vertices, "pixels")

fig, axes = plt.subplots(1, 2, figsize=(9, 2.6), subplot_kw={"projection": "mollweide"})
for ax, values, title, sampling in (
    (axes[0], m_nest, f"NESTED map, nside {nside}", s),
    (axes[1], y[0, :, 0], f"average-pooled, nside {nside // 2}", sg.healpix(nside // 2)),
):
    lon = np.mod(sampling.lon + np.pi, 2 * np.pi) - np.pi
    ax.scatter(lon, sampling.lat, c=values, s=8, cmap="RdBu_r", linewidths=0)
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.set_title(title, fontsize=9)
plt.show()

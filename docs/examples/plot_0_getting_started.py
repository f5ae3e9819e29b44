"""
Getting started: from a sampling to a spherical U-Net
=====================================================

The five packages stack: ``sphere_graphs`` describes where the pixels are and how
they connect, ``cheb_conv`` convolves signals on any graph, ``sphere_pool`` pools
between resolutions, and ``sphere_unet`` composes the three into models. All
tensors are laid out ``(batch, vertices, channels)``.
"""

# %%
# A sampling and its graph
# ------------------------
# A HEALPix sampling (NESTED order) with ``nside = 8``: 768 pixels. The k-NN graph
# uses the published DeepSphere kernel width for HEALPix; its Laplacian is a
# ``scipy.sparse`` matrix.
import cheb_conv
import matplotlib.pyplot as plt
import numpy as np
import sphere_graphs as sg
import sphere_pool
import sphere_unet
import torch

torch.manual_seed(0)
sampling = sg.healpix(8)
graph = sg.knn_graph(sampling, k=8)
L = graph.laplacian("normalized")
print(sampling, sampling.n_vertices, "vertices;", graph.adjacency.nnz, "nonzeros in the adjacency")

# %%
# A Chebyshev convolution
# -----------------------
# ``cheb_conv.rescale`` maps the Laplacian's spectrum to ``[-1, 1]``; ``ChebConv``
# holds it as a non-persistent buffer (it follows ``.to(device)``).
operator = cheb_conv.rescale(L, lmax=2.0)  # 2 bounds a normalized Laplacian's spectrum
conv = cheb_conv.ChebConv(in_channels=2, out_channels=4, K=3, operator=operator)
x = torch.randn(5, sampling.n_vertices, 2)  # (batch, vertices, channels)
y = conv(x)
print("ChebConv:", tuple(x.shape), "->", tuple(y.shape))

# %%
# Pooling to the next coarser sampling
# ------------------------------------
# ``for_sampling`` returns a matching ``(pool, unpool)`` pair; HEALPix pools the
# four children of each ``nside / 2`` pixel.
pool, unpool = sphere_pool.for_sampling(sampling, mode="avg")
coarse = pool(y)
print(
    "pool:", tuple(y.shape), "->", tuple(coarse.shape), "; unpool ->", tuple(unpool(coarse).shape)
)

# %%
# A spherical U-Net
# -----------------
# ``SphericalUNet`` builds the graphs and pooling maps of every level from the
# finest sampling. Here: two poolings, 16 channels at the finest level.
model = sphere_unet.SphericalUNet(sampling, in_channels=2, out_channels=3, depth=2, width=8)
logits = model(x)
n_params = sum(p.numel() for p in model.parameters())
print("U-Net:", tuple(x.shape), "->", tuple(logits.shape), f"({n_params} parameters)")

# %%
# The class scores of the untrained model on the sphere (first sample, class 0):
lon, lat = sampling.lon, sampling.lat
fig = plt.figure(figsize=(6, 3.2))
ax = fig.add_subplot(projection="mollweide")
art = ax.scatter(np.mod(lon + np.pi, 2 * np.pi) - np.pi, lat, c=logits[0, :, 0].detach(), s=12)
ax.set_xticklabels([])
ax.set_yticklabels([])
ax.set_title("untrained U-Net output, class 0")
fig.colorbar(art, ax=ax, orientation="horizontal", shrink=0.6, pad=0.05)
plt.show()

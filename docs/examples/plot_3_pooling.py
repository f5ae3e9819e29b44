"""
Pooling hierarchies
===================

``sphere_graphs.hierarchy(sampling, depth)`` returns one ``Coarsening`` per pooling
step, finest first: the coarse sampling, each fine vertex's ``parent`` and each
coarse vertex's ``children``. ``sphere_pool`` turns them into pooling and unpooling
layers. Below, each vertex is coloured by its ancestor at the coarsest level, so
the cells that pool together show as patches.
"""

import matplotlib.pyplot as plt
import numpy as np
import sphere_graphs as sg
import sphere_pool
import torch


def ancestors(levels):
    """For every level (finest first), the index of each vertex's coarsest ancestor."""
    top = [np.arange(levels[-1].coarse.n_vertices)]
    for c in reversed(levels):
        top.insert(0, top[0][np.asarray(c.parent)])
    return top


def show(ax, s, values, title, cmap="tab20", size=8):
    lon = np.mod(s.lon + np.pi, 2 * np.pi) - np.pi
    ax.scatter(lon, s.lat, c=values, cmap=cmap, s=size, linewidths=0)
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.grid(True, lw=0.3)
    ax.set_title(title, fontsize=9)


cases = {
    "HEALPix": sg.healpix(8),
    "icosahedral": sg.icosahedral(3),
    "equiangular": sg.equiangular(16, 32),
}
DEPTH = 2

# %%
# Three levels of each sampling (rows), from the finest (left) to the coarsest.
fig, axes = plt.subplots(3, DEPTH + 1, figsize=(10, 6.5), subplot_kw={"projection": "mollweide"})
for row, (name, s) in enumerate(cases.items()):
    levels = sg.hierarchy(s, depth=DEPTH)
    samplings = [s] + [c.coarse for c in levels]
    for col, (level, colour) in enumerate(zip(samplings, ancestors(levels), strict=True)):
        show(
            axes[row, col],
            level,
            colour % 20,
            f"{name}: {level.n_vertices} vertices",
            size=40 / (1 + 3 * (DEPTH - col) ** 1.3),
        )
fig.tight_layout()
plt.show()

# %%
# Pooling a signal
# ----------------
# ``sphere_pool.for_sampling`` returns the pooling layer of the finest step and the
# matching unpooling. Average pooling of a smooth field followed by unpooling
# (nearest: every child gets its parent's value) gives a blocky copy of it.
s = cases["HEALPix"]
pool, unpool = sphere_pool.for_sampling(s, mode="avg")
field = 0.3 + np.sin(3 * s.lon) * np.cos(s.lat) ** 2 + 0.5 * np.sin(2 * s.lat)
x = torch.tensor(field, dtype=torch.float32).reshape(1, -1, 1)  # (batch, vertices, channels)
y = pool(x)
z = unpool(y)
coarse = sg.hierarchy(s, depth=1)[0].coarse

fig, axes = plt.subplots(1, 3, figsize=(10, 2.6), subplot_kw={"projection": "mollweide"})
show(axes[0], s, x[0, :, 0], f"input ({s.n_vertices})", cmap="RdBu_r")
show(axes[1], coarse, y[0, :, 0], f"average-pooled ({coarse.n_vertices})", cmap="RdBu_r", size=25)
show(axes[2], s, z[0, :, 0], "unpooled", cmap="RdBu_r")
fig.tight_layout()
plt.show()
print(
    f"mean of the input {float(x.mean()):.4f}, of the pooled map {float(y.mean()):.4f} (equal-area pixels)"
)

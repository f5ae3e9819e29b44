"""
Every sampling and its graph on the sphere
==========================================

``sphere_graphs`` places pixels on the sphere in several ways. Each sampling comes
with a graph: the mesh graph joins the neighbours of the sampling's own grid, the
k-nearest-neighbour graph (Gaussian weights) works for any point set. Small sizes
here, so the edges stay visible; only the hemisphere facing the viewer is drawn.
"""

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
import sphere_graphs as sg
from mpl_toolkits.mplot3d.art3d import Line3DCollection

VIEW = np.array([1.0, -1.2, 0.8]) / np.linalg.norm([1.0, -1.2, 0.8])


def draw_graph(ax, coords, adjacency, title):
    """Vertices and edges (chords) of the hemisphere that faces the viewer."""
    front = coords @ VIEW > -0.05
    a = sp.triu(sp.coo_matrix(adjacency), k=1).tocoo()
    keep = front[a.row] & front[a.col]
    segments = np.stack([coords[a.row[keep]], coords[a.col[keep]]], axis=1)
    ax.add_collection3d(Line3DCollection(segments, colors="0.4", linewidths=0.5))
    c = coords[front]
    ax.scatter(c[:, 0], c[:, 1], c[:, 2], s=5, c="C3", depthshade=False)
    ax.view_init(elev=np.degrees(np.arcsin(VIEW[2])), azim=np.degrees(np.arctan2(VIEW[1], VIEW[0])))
    ax.set_box_aspect((1, 1, 1))
    for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
        setter(-0.8, 0.8)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)


rng = np.random.default_rng(0)
lon = rng.uniform(0, 2 * np.pi, 300)
lat = np.arcsin(rng.uniform(-1, 1, 300))  # uniform on the sphere

samplings = {
    "HEALPix, nside 4": sg.healpix(4),
    "icosahedral, level 2": sg.icosahedral(2),
    "equiangular 12 x 24": sg.equiangular(12, 24),
    "Gauss-Legendre 12 x 24": sg.gauss_legendre(12, 24),
    "cubed sphere, n 5": sg.cubed_sphere(5),
    "300 random points": sg.points(lon, lat),
}

# %%
# Mesh graphs
# -----------
# The grid's own neighbourhoods (8 neighbours on HEALPix and the rectangular grids,
# the triangles' edges on the icosahedral mesh). Random points have no grid: their
# panel shows the k-NN graph.
fig = plt.figure(figsize=(9, 6.4))
for i, (name, s) in enumerate(samplings.items()):
    ax = fig.add_subplot(2, 3, i + 1, projection="3d")
    if s.kind == "points":
        graph = sg.knn_graph(s, k=6)
        name += " (k-NN, k 6)"
    else:
        graph = sg.mesh_graph(s)
    draw_graph(ax, s.coords, graph.adjacency, f"{name}\n{s.n_vertices} vertices")
fig.tight_layout()
plt.show()

# %%
# k-NN graphs
# -----------
# The same samplings with ``knn_graph(s, k=8)``: every vertex is joined to its 8
# nearest neighbours (symmetrised), whatever the sampling.
fig = plt.figure(figsize=(9, 6.4))
for i, (name, s) in enumerate(samplings.items()):
    ax = fig.add_subplot(2, 3, i + 1, projection="3d")
    graph = sg.knn_graph(s, k=8)
    degree = np.asarray((graph.adjacency > 0).sum(axis=1)).ravel()
    draw_graph(ax, s.coords, graph.adjacency, f"{name}\ndegree {degree.min()}-{degree.max()}")
fig.tight_layout()
plt.show()

# %%
# Vertex density
# --------------
# The samplings differ in how evenly they cover the sphere. The median distance to
# the nearest neighbour, relative to its value for equal-area pixels, shows it
# (1 means every vertex is as far from its neighbour as on a perfectly even grid).
fig, ax = plt.subplots(figsize=(7, 3))
for i, s in enumerate(samplings.values()):
    d = sg.knn_graph(s, k=1, sigma=1.0)  # weights unused; only the neighbour matters
    c = sp.coo_matrix(d.adjacency)
    dist = np.linalg.norm(s.coords[c.row] - s.coords[c.col], axis=1)
    nearest = np.full(s.n_vertices, np.inf)
    np.minimum.at(nearest, c.row, dist)
    even = np.sqrt(4 * np.pi / s.n_vertices)
    ax.boxplot(nearest / even, positions=[i], widths=0.5, showfliers=False)
ax.set_xticks(range(len(samplings)), [n.split(",")[0] for n in samplings], rotation=20)
ax.set_ylabel("nearest-neighbour distance\n/ equal-area spacing")
fig.tight_layout()
plt.show()

import math

import numpy as np
import pytest
import sphere_graphs as sg

LN2 = math.log(2)


def _edges(g):
    A = g.adjacency.tocoo()
    return {(int(i), int(j)) for i, j in zip(A.row, A.col, strict=False)}


def _check(g):
    A = g.adjacency
    assert abs(A - A.T).max() == 0
    assert not A.diagonal().any()
    assert A.has_sorted_indices


@pytest.mark.parametrize("nest", [True, False])
def test_healpix_mesh_is_the_8_neighbourhood(nest):
    nside = 8
    s = sg.healpix(nside, nest=nest)
    g = sg.mesh_graph(s, weights="ones")
    _check(g)
    nb = np.asarray(sg.neighbours(nside, np.arange(s.n_vertices), nest))
    ref = {(i, int(j)) for i in range(s.n_vertices) for j in nb[i] if j >= 0}
    assert _edges(g) == ref
    deg = np.diff(g.adjacency.indptr)
    assert set(np.unique(deg)) == {7, 8} and np.sum(deg == 7) == 24
    assert np.all(g.adjacency.data == 1.0)


def test_healpix_partial_sky_keeps_inside_neighbours():
    nside = 8
    idx = np.arange(0, 200, 2)
    s = sg.healpix(nside, indices=idx)
    g = sg.mesh_graph(s)
    _check(g)
    full = sg.mesh_graph(sg.healpix(nside), weights="ones").adjacency
    ref = full[idx][:, idx]
    assert (ref != (g.adjacency > 0)).nnz == 0


def test_icosahedral_mesh_edges_from_faces_and_weights():
    s = sg.icosahedral(3)
    g = sg.mesh_graph(s)
    _check(g)
    f = s.faces
    ref = set()
    for a, b in ((0, 1), (1, 2), (2, 0)):
        ref |= {(int(i), int(j)) for i, j in zip(f[:, a], f[:, b], strict=False)}
        ref |= {(int(j), int(i)) for i, j in zip(f[:, a], f[:, b], strict=False)}
    assert _edges(g) == ref
    deg = np.diff(g.adjacency.indptr)
    assert np.sum(deg == 5) == 12 and np.all((deg == 5) | (deg == 6))
    A = g.adjacency.tocoo()
    d = np.linalg.norm(s.coords[A.row] - s.coords[A.col], axis=1)
    sigma = d.mean()
    assert g.params["sigma"] == pytest.approx(sigma)
    np.testing.assert_allclose(A.data, np.exp(-LN2 * d**2 / sigma**2), rtol=1e-12)


@pytest.mark.parametrize("neighbourhood", [4, 8])
def test_equiangular_grid_wraps_in_longitude(neighbourhood):
    nlat, nlon = 5, 8
    g = sg.mesh_graph(sg.equiangular(nlat, nlon), weights="ones", neighbourhood=neighbourhood)
    _check(g)
    e = _edges(g)
    v = lambda i, j: i * nlon + (j % nlon)  # noqa: E731
    assert (v(2, 7), v(2, 0)) in e and (v(2, 0), v(2, 7)) in e
    assert (v(1, 3), v(2, 3)) in e
    assert ((v(1, 3), v(2, 4)) in e) == (neighbourhood == 8)
    assert ((v(1, 0), v(2, 7)) in e) == (neighbourhood == 8)
    deg = np.diff(g.adjacency.indptr).reshape(nlat, nlon)
    inner = 4 if neighbourhood == 4 else 8
    assert np.all(deg[1:-1] == inner) and np.all(deg[[0, -1]] == (3 if neighbourhood == 4 else 5))
    assert g.params["neighbourhood"] == neighbourhood


def test_pole_rows_and_gauss_legendre_and_cubed():
    g = sg.mesh_graph(sg.equiangular(6, 8, poles=2))
    _check(g)
    assert np.isclose(g.adjacency[0, 1], 1.0)  # pole copies: distance 0, weight 1
    _check(sg.mesh_graph(sg.gauss_legendre(6)))
    gc = sg.mesh_graph(sg.cubed_sphere(5), weights="ones")
    _check(gc)
    assert np.all(np.diff(gc.adjacency.indptr) == 4)
    from scipy.sparse.csgraph import connected_components

    assert connected_components(gc.adjacency)[0] == 1


def test_mesh_validation():
    pts = sg.PointSampling(sg.lonlat_to_xyz(np.arange(5.0), np.zeros(5)))
    with pytest.raises(ValueError, match="knn_graph"):
        sg.mesh_graph(pts)
    s = sg.icosahedral(1)
    with pytest.raises(ValueError, match="weights"):
        sg.mesh_graph(s, weights="gaussian")
    with pytest.raises(ValueError, match="neighbourhood"):
        sg.mesh_graph(sg.equiangular(4, 8), neighbourhood=6)
    with pytest.raises(ValueError, match="sigma"):
        sg.mesh_graph(s, sigma=0.0)

"""Coarsening hierarchies for HEALPix, icosahedral and grid samplings."""

import itertools

import numpy as np
import pytest
import sphere_graphs as sg
from sphere_graphs._grids import cubed_sphere, equiangular, gauss_legendre, points
from sphere_graphs._healpix import healpix
from sphere_graphs._hierarchy import coarsen, healpix_closure, hierarchy, max_depth
from sphere_graphs._icosahedral import icosahedral


def _check_common(c):
    vf, vc = c.fine.n_vertices, c.coarse.n_vertices
    assert c.children.shape[0] == vc and c.children.dtype == np.int64
    assert c.parent.shape == (vf,) and c.parent.dtype == np.int64
    assert c.interpolation.shape == (vf, vc) and c.interpolation.format == "csr"
    np.testing.assert_allclose(np.asarray(c.interpolation.sum(axis=1)).ravel(), 1.0)
    assert c.children.max() < vf and c.children.min() >= -1
    assert c.parent.min() >= 0 and c.parent.max() < vc
    # every fine vertex that is someone's child has its parent among the groups containing it
    rows, cols = np.nonzero(c.children >= 0)
    kids = c.children[rows, cols]
    pairs = set(zip(kids.tolist(), rows.tolist(), strict=True))
    is_kid = set(kids.tolist())
    assert all((i, p) in pairs for i, p in enumerate(c.parent.tolist()) if i in is_kid)


def test_healpix_full():
    s = healpix(8)
    c = coarsen(s)
    _check_common(c)
    assert c.coarse.nside == 4 and c.coarse.nest and c.kept is None and c.complete and c.ratio == 4
    np.testing.assert_array_equal(c.children, np.arange(768).reshape(192, 4))
    np.testing.assert_array_equal(c.parent, np.arange(768) // 4)
    np.testing.assert_array_equal(c.interpolation.indices, c.parent)


def test_healpix_children_are_geometric():
    hp = pytest.importorskip("healpy")
    nside = 16
    c = coarsen(healpix(nside))
    # each fine pixel centre lies inside its parent pixel
    x, y, z = c.fine.coords.T
    np.testing.assert_array_equal(hp.vec2pix(nside // 2, x, y, z, nest=True), c.parent)
    # the parent is among the nearest coarse centres of each fine pixel
    d = c.fine.coords @ c.coarse.coords.T
    best = np.argsort(-d, axis=1)[:, :2]
    assert np.all((best == c.parent[:, None]).any(axis=1))
    # ud_grade (NESTED) agrees
    up = hp.ud_grade(np.arange(12 * 64, dtype=float), nside, order_in="NESTED", order_out="NESTED")
    np.testing.assert_array_equal(up.astype(np.int64), c.parent)


def test_healpix_ring_rejected():
    with pytest.raises(ValueError, match="nest=True"):
        coarsen(healpix(4, nest=False))
    with pytest.raises(ValueError, match="nest=True"):
        hierarchy(healpix(4, nest=False), 1)


def test_healpix_subset_consistent_with_full():
    rng = np.random.default_rng(0)
    nside = 16
    full = coarsen(healpix(nside))
    raw = np.sort(rng.choice(12 * nside**2, 500, replace=False))
    idx = healpix_closure(nside, raw, 1)
    c = coarsen(healpix(nside, indices=idx))
    _check_common(c)
    assert c.complete
    np.testing.assert_array_equal(c.coarse.indices, np.unique(idx // 4))
    np.testing.assert_allclose(c.coarse.coords, full.coarse.coords[c.coarse.indices])
    # children are positions in the fine subset, in the full sphere's order
    np.testing.assert_array_equal(idx[c.children], full.children[c.coarse.indices])
    np.testing.assert_array_equal(c.coarse.indices[c.parent], idx // 4)


def test_incomplete_healpix_subset_is_refused_with_one_message():
    nside = 16
    idx = np.array([0, 1, 2, 5, 700])  # pixel 0's group is complete only at level 0
    s = healpix(nside, indices=idx)
    messages = []
    for call in (
        lambda: coarsen(s),
        lambda: hierarchy(s, 1),
        lambda: hierarchy(s, 2),
        lambda: sg.require_closed(s, 1),
        lambda: sg.graph_hierarchy(s, 1, k=2),
    ):
        with pytest.raises(ValueError, match="healpix_closure") as err:
            call()
        messages.append(str(err.value).split(" under ")[0])
    assert len(set(messages)) == 1  # the same rule and wording everywhere
    closed = sg.graph_hierarchy(s, 2, k=1, close=True)
    np.testing.assert_array_equal(closed.levels[0].sampling.indices, healpix_closure(nside, idx, 2))
    assert all(c.complete for c in closed.coarsenings)
    sg.require_closed(healpix(nside, indices=healpix_closure(nside, idx, 2)), 2)  # passes


def test_healpix_closure():
    nside = 16
    idx = np.array([0, 5, 700, 3071])
    one = healpix_closure(nside, idx, 1)
    np.testing.assert_array_equal(
        one, [0, 1, 2, 3, 4, 5, 6, 7, 700, 701, 702, 703, 3068, 3069, 3070, 3071]
    )
    two = healpix_closure(nside, idx, 2)
    levels = hierarchy(healpix(nside, indices=two), 2)
    assert all(c.complete for c in levels)
    assert set(idx.tolist()) <= set(two.tolist())
    np.testing.assert_array_equal(healpix_closure(nside, idx, 0), idx)
    with pytest.raises(ValueError):
        healpix_closure(nside, idx, 5)


def test_icosahedral():
    fine = icosahedral(3)
    c = coarsen(fine)
    _check_common(c)
    vc = 162
    assert c.coarse.n_vertices == vc and c.coarse.level == 2 and c.complete
    np.testing.assert_array_equal(c.kept, np.arange(vc))
    np.testing.assert_array_equal(c.coarse.faces, icosahedral(2).faces)
    np.testing.assert_allclose(c.coarse.coords, icosahedral(2).coords, atol=1e-15)
    assert c.children.shape == (vc, 7)
    np.testing.assert_array_equal(c.children[:, 0], np.arange(vc))
    assert (c.children[:, 6] < 0).sum() == 12 and np.all(c.children[:, :6] >= 0)
    # the children are the kept vertex and the midpoints of its fine edges: distance ~ half an edge
    kids = c.children[:, 1:]
    ok = kids >= 0
    dist = np.linalg.norm(fine.coords[np.maximum(kids, 0)] - fine.coords[:vc, None], axis=2)[ok]
    assert dist.max() < 1.2 * dist.min()
    # interpolation: midpoints are the normalised mean of the two endpoints
    m = c.interpolation
    np.testing.assert_array_equal(
        np.diff(m.indptr), np.r_[np.ones(vc), 2 * np.ones(fine.n_vertices - vc)]
    )
    approx = m @ c.coarse.coords
    approx /= np.linalg.norm(approx, axis=1, keepdims=True)
    np.testing.assert_allclose(approx, fine.coords, atol=1e-12)
    # parent of a midpoint: the smaller endpoint index
    ends = m.indices[m.indptr[vc] :].reshape(-1, 2)
    np.testing.assert_array_equal(c.parent[vc:], ends.min(axis=1))
    np.testing.assert_array_equal(c.parent[:vc], np.arange(vc))


@pytest.mark.parametrize(
    "make",
    [
        lambda: equiangular(8, 12),
        lambda: equiangular(8, 12, poles=1),
        lambda: gauss_legendre(8, 12),
    ],
)
def test_latlon_blocks(make):
    s = make()
    c = coarsen(s)
    _check_common(c)
    assert (c.coarse.nlat, c.coarse.nlon) == (4, 6) and c.complete and type(c.coarse) is type(s)
    np.testing.assert_array_equal(c.children[0], [0, 1, 12, 13])
    np.testing.assert_array_equal(c.children[7], [2 * 12 + 2, 2 * 12 + 3, 3 * 12 + 2, 3 * 12 + 3])
    assert np.array_equal(np.sort(c.children.ravel()), np.arange(96))
    np.testing.assert_array_equal(
        c.parent[c.children], np.repeat(np.arange(24)[:, None], 4, axis=1)
    )
    # bilinear interpolation reproduces functions linear in (lat, lon index) inside the grid
    assert c.interpolation.nnz <= 4 * 96


def test_equiangular_interpolation_is_exact_for_smooth_rows():
    s = equiangular(8, 16)
    c = coarsen(s)
    # linear in latitude: exact between the outermost coarse rows
    f_fine = c.interpolation @ c.coarse.lat
    inner = slice(16, 16 * 7)
    np.testing.assert_allclose(f_fine[inner], s.lat[inner], atol=1e-12)
    # periodic and linear in longitude index along a row
    g = np.tile(np.cos(np.arange(8) * 2 * np.pi / 8), 4)
    np.testing.assert_allclose((c.interpolation @ g)[0:16:2], g[:8], atol=1e-12)


def test_cubed_sphere_blocks():
    s = cubed_sphere(4)
    c = coarsen(s)
    _check_common(c)
    assert c.coarse.n == 2 and c.complete
    np.testing.assert_array_equal(c.children[0], [0, 1, 4, 5])
    np.testing.assert_array_equal(c.children[4], [16, 17, 20, 21])
    # fine cells lie close to their parent cells
    cos = np.einsum("ij,ij->i", s.coords, c.coarse.coords[c.parent])
    assert cos.min() > np.cos(np.pi / 4 / 2 * 1.5)


def test_hierarchy_chain_and_depth():
    levels = hierarchy(healpix(8), 3)
    assert [c.fine.nside for c in levels] == [8, 4, 2]
    assert all(a.coarse is b.fine for a, b in itertools.pairwise(levels))
    assert hierarchy(icosahedral(2), 0) == []
    assert max_depth(equiangular(12, 24)) == 2 and max_depth(icosahedral(4)) == 4
    with pytest.raises(ValueError, match="at most 3"):
        hierarchy(healpix(8), 4)
    with pytest.raises(ValueError, match="at most 2"):
        hierarchy(icosahedral(2), 3)
    with pytest.raises(ValueError):
        hierarchy(healpix(8), -1)


@pytest.mark.parametrize(
    "sampling",
    [
        equiangular(6, 9),
        equiangular(5, 10),
        equiangular(8, 16, poles=2),
        cubed_sphere(3),
        healpix(1),
        icosahedral(0),
    ],
)
def test_bad_coarsening(sampling):
    with pytest.raises(ValueError):
        coarsen(sampling)


def test_points_have_no_hierarchy():
    with pytest.raises(ValueError, match="resample"):
        coarsen(points([0, 1], [0, 0]))
    with pytest.raises(ValueError, match="resample"):
        hierarchy(points([0, 1], [0, 0]), 1)


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
def test_graph_hierarchy_levels_match_separate_calls(kind):
    s = healpix(8)
    h = sg.graph_hierarchy(s, 2, laplacian=kind, dtype=np.float32)
    assert isinstance(h, sg.GraphHierarchy) and h.depth == 2 and len(h) == 3
    assert [lv.n_vertices for lv in h] == [768, 192, 48]
    assert h.levels[-1].coarsening is None
    for lv, c in zip(h.levels, hierarchy(s, 2), strict=False):
        np.testing.assert_array_equal(lv.coarsening.children, c.children)
    for lv in h:
        g = sg.knn_graph(lv.sampling, 8)
        assert (g.adjacency != lv.graph.adjacency).nnz == 0
        lap = sg.laplacian(g.adjacency, kind).toarray()
        ev = np.linalg.eigvalsh(lap)
        assert ev[-1] <= lv.lmax * (1 + 1e-12)  # a valid bound of the spectrum
        ref = 2 * lap / lv.lmax - np.eye(lv.n_vertices)
        assert lv.laplacian.dtype == np.float32
        np.testing.assert_allclose(lv.laplacian.toarray(), ref, atol=1e-6)
        assert (lv.laplacian != lv.laplacian.T).nnz == 0


def test_graph_hierarchy_input_errors():
    with pytest.raises(ValueError, match="k=12"):
        sg.graph_hierarchy(healpix(2), 1, k=12)  # level 1 has 12 vertices
    with pytest.raises(ValueError, match="depth"):
        sg.graph_hierarchy(healpix(4), 3)
    with pytest.raises(ValueError, match="graph"):
        sg.graph_hierarchy(healpix(4), 1, graph="ring")
    with pytest.raises(ValueError, match="nest=True"):
        sg.graph_hierarchy(healpix(4, nest=False), 1)
    with pytest.raises(TypeError, match="Sampling"):
        sg.graph_hierarchy(np.zeros((10, 3)), 1)

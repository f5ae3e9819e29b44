import math

import numpy as np
import pytest
import scipy.sparse as sp
import sphere_graphs as sg
from scipy.spatial import cKDTree
from sphere_graphs._knn import _mutual_mask
from sphere_graphs._knn_healpix import healpix_knn, window_radius

LN2 = math.log(2)


def _reference(coords, k, sigma, rule="average"):
    """Dense brute-force k-NN adjacency (no ties expected)."""
    n = coords.shape[0]
    d2 = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    nbr = np.argsort(d2, axis=1, kind="stable")[:, :k]
    a = np.zeros((n, n))
    rows = np.repeat(np.arange(n), k)
    a[rows, nbr.ravel()] = np.exp(-LN2 * d2[rows, nbr.ravel()] / sigma**2)
    return (a + a.T) / 2 if rule == "average" else np.maximum(a, a.T)


def _random_points(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    return sg.PointSampling(x / np.linalg.norm(x, axis=1, keepdims=True))


@pytest.mark.parametrize("rule", ["average", "max"])
@pytest.mark.parametrize("k", [1, 5, 12])
def test_knn_matches_brute_force(rule, k):
    s = _random_points(300)
    g = sg.knn_graph(s, k, sigma=0.2, symmetrize=rule)
    np.testing.assert_allclose(
        g.adjacency.toarray(), _reference(s.coords, k, 0.2, rule), rtol=1e-12, atol=0
    )
    assert g.adjacency.has_sorted_indices
    assert g.kind == "knn" and g.params["k"] == k and g.params["sigma"] == 0.2


def _check_healpix_exact(nside, k, nest=True):
    s = sg.healpix(nside, nest=nest)
    found = healpix_knn(s, k)
    coords = s.coords
    dist, idx = cKDTree(coords).query(coords, k=k + 2)
    ref = np.sort(dist[:, 1 : k + 1] ** 2, axis=1)
    if found is None:  # tiny nside: the k-d tree path is used, nothing to compare
        return
    nbr, d2, mutual, recheck, _extras = found
    assert nbr.shape == (s.n_vertices, k)
    assert not np.any(nbr == np.arange(s.n_vertices)[:, None])
    assert np.all(np.sort(nbr, axis=1)[:, 1:] != np.sort(nbr, axis=1)[:, :-1])
    np.testing.assert_allclose(np.sort(d2, axis=1), ref, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(
        d2, ((coords[:, None] - coords[nbr]) ** 2).sum(-1), rtol=1e-12, atol=1e-18
    )
    # Rows without a tie at the k-th distance have exactly the k-d tree's neighbours.
    clear = dist[:, k] ** 2 < dist[:, k + 1] ** 2 * (1 - 1e-9)
    np.testing.assert_array_equal(np.sort(nbr[clear], 1), np.sort(idx[clear, 1 : k + 1], 1))
    np.testing.assert_array_equal(_mutual_mask(nbr, mutual.copy(), recheck), _mutual_mask(nbr))


@pytest.mark.parametrize("nside", [4, 16, 64])
@pytest.mark.parametrize("k", [8, 20, 40, 60])
def test_healpix_fast_path_exact(nside, k):
    _check_healpix_exact(nside, k)


@pytest.mark.parametrize("k", [8, 20])
def test_healpix_fast_path_exact_nside256(k):
    _check_healpix_exact(256, k)


def test_healpix_ring_equals_nest_permuted():
    nside = 32
    gn = sg.knn_graph(sg.healpix(nside, nest=True), 8)
    gr = sg.knn_graph(sg.healpix(nside, nest=False), 8)
    r2n = np.asarray(sg.ring2nest(nside, np.arange(12 * nside**2)))
    P = sp.csr_matrix((np.ones(r2n.size), (np.arange(r2n.size), r2n)))
    diff = P @ gn.adjacency @ P.T - gr.adjacency
    assert abs(diff).max() < 1e-15
    _check_healpix_exact(32, 8, nest=False)


def test_healpix_ring_nside_not_power_of_two_uses_kdtree():
    s = sg.healpix(24, nest=False)
    assert healpix_knn(s, 8) is None
    g = sg.knn_graph(s, 8)
    assert abs(g.adjacency - g.adjacency.T).max() == 0
    assert g.params["sigma"] == pytest.approx(0.025 * 32 / 24)


def test_healpix_graph_structure_and_weights():
    nside = 16
    g = sg.knn_graph(sg.healpix(nside), 8)
    A = g.adjacency
    assert abs(A - A.T).max() == 0 and not A.diagonal().any()
    deg = np.diff(A.indptr)
    assert deg.min() >= 8 and deg.max() <= 16
    sigma = g.params["sigma"]
    assert sigma == pytest.approx(0.025 * 2)  # extrapolated: doubled per halving of nside
    rows = np.repeat(np.arange(A.shape[0]), deg)
    d2 = ((g.coords[rows] - g.coords[A.indices]) ** 2).sum(1)
    w = np.exp(-LN2 * d2 / sigma**2)
    ratio = A.data / w
    assert np.all(np.isclose(ratio, 1.0) | np.isclose(ratio, 0.5))


def test_published_widths_and_extrapolation():
    assert sg.healpix_kernel_width(1024, 8) == 0.00077
    assert sg.healpix_kernel_width(256, 60) == 0.006351
    assert sg.healpix_kernel_width(8, 20) == pytest.approx(0.03185 * 4)
    assert sg.healpix_kernel_width(2048, 8) == pytest.approx(0.00077 / 2)
    assert sg.healpix_kernel_width(512, 40) == pytest.approx(0.005551 / 2)
    assert sg.healpix_kernel_width(64, 7) is None
    assert sg.knn_graph(sg.healpix(32), 20).params["sigma"] == 0.03185


def test_default_sigma_other_samplings_positive():
    for s in (_random_points(200), sg.icosahedral(2)):
        g = sg.knn_graph(s, 7)
        assert g.params["sigma"] > 0
    # rule 3: mean distance to the k-th neighbour
    s = _random_points(200, seed=3)
    dist, _ = cKDTree(s.coords).query(s.coords, k=8)
    assert sg.knn_graph(s, 7).params["sigma"] == pytest.approx(dist[:, 7].mean())


def test_knn_validation():
    s = _random_points(10)
    with pytest.raises(ValueError, match="k=10"):
        sg.knn_graph(s, 10)
    with pytest.raises(ValueError, match=">= 1"):
        sg.knn_graph(s, 0)
    with pytest.raises(TypeError):
        sg.knn_graph(s, 2.5)
    with pytest.raises(ValueError, match="sigma"):
        sg.knn_graph(s, 3, sigma=-1.0)
    with pytest.raises(ValueError, match="kernel"):
        sg.knn_graph(s, 3, kernel="cauchy")
    with pytest.raises(ValueError, match="symmetrize"):
        sg.knn_graph(s, 3, symmetrize="min")
    with pytest.raises(TypeError, match="PointSampling"):
        sg.knn_graph(np.zeros((10, 3)), 3)
    with pytest.raises(ValueError, match="NaN"):
        sg.PointSampling(np.full((5, 3), np.nan))


def test_duplicate_points_rejected():
    c = _random_points(50).coords
    dup = sg.PointSampling(np.concatenate([c, c[:3]]))
    with pytest.raises(ValueError, match=r"3 pair\(s\).*mesh_graph"):
        sg.knn_graph(dup, 4)
    with pytest.raises(ValueError, match="duplicate"):
        sg.knn_graph(sg.equiangular(8, 16, poles=2), 4)
    with pytest.raises(ValueError, match="duplicate"):
        sg.radius_graph(dup, 0.5)


def test_radius_graph_matches_brute_force():
    s = _random_points(200, seed=1)
    g = sg.radius_graph(s, 0.3, sigma=0.1)
    d2 = ((s.coords[:, None] - s.coords[None]) ** 2).sum(-1)
    ref = np.where((d2 <= 0.09) & (d2 > 0), np.exp(-LN2 * d2 / 0.01), 0.0)
    np.testing.assert_allclose(g.adjacency.toarray(), ref, rtol=1e-12)
    assert g.params["sigma"] == 0.1
    assert sg.radius_graph(s, 1e-6).adjacency.nnz == 0
    with pytest.raises(ValueError, match="radius"):
        sg.radius_graph(s, 0.0)


def test_window_radius_contains_k():
    for k in (1, 8, 9, 20, 40, 60, 100):
        r = window_radius(k)
        assert (2 * r - 1) ** 2 - 1 >= k


def _brute_ties(coords, k, sigma):
    """Dense tie-inclusive reference: every vertex within TIE_RTOL of the k-th distance."""
    coords.shape[0]
    d2 = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    kth = np.sort(d2, axis=1)[:, k - 1]
    keep = d2 <= kth[:, None] * (1 + sg.TIE_RTOL) ** 2
    a = np.where(keep, np.exp(-LN2 * d2 / sigma**2), 0.0)
    return (a + a.T) / 2


@pytest.mark.parametrize(("nside", "nest"), [(4, True), (16, True), (6, False)])
def test_tie_inclusive_healpix_matches_dense_reference(nside, nest):
    # (6, RING): nside not a power of two, built by the k-d tree path
    s = sg.healpix(nside, nest=nest)
    g = sg.knn_graph(s, 8)
    assert g.params["ties"] == "distance"
    ref = _brute_ties(s.coords, 8, g.params["sigma"])
    np.testing.assert_allclose(g.adjacency.toarray(), ref, rtol=1e-12, atol=0)
    # Ties exist on HEALPix: rows with more than k neighbours before symmetrisation.
    assert (np.count_nonzero(ref > 0, axis=1) > 8).any() or nside == 4


@pytest.mark.parametrize("nest", [True, False])
def test_fast_healpix_path_equals_tree_path_with_ties(nest):
    s = sg.healpix(64, nest=nest)
    a = sg.knn_graph(s, 8)
    b = sg.knn_graph(sg.PointSampling(s.coords), 8, sigma=a.params["sigma"])
    assert (a.adjacency != b.adjacency).nnz == 0


def _perm(coords, rotation):
    dist, perm = cKDTree(coords).query(coords @ rotation)
    assert dist.max() < 1e-9
    return perm


@pytest.mark.parametrize(
    "make",
    [
        lambda: sg.healpix(16),
        lambda: sg.healpix(16, nest=False),
        lambda: sg.icosahedral(3),
        lambda: sg.equiangular(16, 32),
    ],
)
def test_default_graph_is_mapped_onto_itself_by_symmetries(make):
    s = make()
    quarter = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    mirror = np.diag([1.0, 1, -1])
    shift = np.array(
        [
            [np.cos(np.pi / 16), -np.sin(np.pi / 16), 0],
            [np.sin(np.pi / 16), np.cos(np.pi / 16), 0],
            [0, 0, 1],
        ]
    )
    if s.kind == "icosahedral":
        from scipy.spatial.transform import Rotation

        # a 5-fold rotation about the first vertex
        rots = [Rotation.from_rotvec(s.coords[0] * 2 * np.pi / 5).as_matrix()]
    elif s.kind == "equiangular":
        rots = [shift, mirror]
    else:
        rots = [quarter, mirror]
    for ties, expect in (("distance", True), ("index", False)):
        a = sg.knn_graph(s, 8, ties=ties).adjacency
        mapped_all = True
        for rot in rots:
            p = _perm(s.coords, rot)
            b = a[p][:, p]
            same_pattern = ((b != 0) != (a != 0)).nnz == 0
            if same_pattern:
                np.testing.assert_allclose(b.toarray(), a.toarray(), rtol=1e-12, atol=1e-14)
            mapped_all &= same_pattern
        if expect:
            assert mapped_all
        elif s.kind == "healpix":
            assert not mapped_all  # the index tie-break breaks the symmetry


def test_ties_keyword_is_validated():
    with pytest.raises(ValueError, match="ties"):
        sg.knn_graph(sg.healpix(4), 8, ties="random")

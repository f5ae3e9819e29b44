import numpy as np
import pytest
import scipy.sparse as sp
import sphere_graphs as sg


def _random_adjacency(n=40, density=0.2, seed=0, isolated=()):
    rng = np.random.default_rng(seed)
    a = rng.random((n, n)) * (rng.random((n, n)) < density)
    a = np.triu(a, 1)
    a = a + a.T
    for i in isolated:
        a[i, :] = a[:, i] = 0
    return a


def test_combinatorial_matches_dense():
    a = _random_adjacency()
    L = sg.laplacian(sp.csr_matrix(a), "combinatorial")
    assert sp.isspmatrix_csr(L) and L.dtype == np.float64
    np.testing.assert_allclose(L.toarray(), np.diag(a.sum(1)) - a, atol=1e-14)


def test_normalized_matches_dense_with_isolated_vertex():
    a = _random_adjacency(isolated=(3, 7))
    d = a.sum(1)
    inv = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0)
    ref = np.diag((d > 0).astype(float)) - inv[:, None] * a * inv[None, :]
    L = sg.laplacian(sp.csr_matrix(a), "normalized")
    np.testing.assert_allclose(L.toarray(), ref, atol=1e-14)
    assert np.all(np.isfinite(L.data))
    assert L[3, 3] == 0 and abs(L[3]).sum() == 0
    ev = np.linalg.eigvalsh(L.toarray())
    assert ev.min() > -1e-12 and ev.max() <= 2 + 1e-12


def test_self_loops_are_ignored_and_dense_input_accepted():
    a = _random_adjacency()
    b = a + np.diag(np.arange(a.shape[0], dtype=float))
    np.testing.assert_allclose(sg.laplacian(b).toarray(), sg.laplacian(a).toarray())


def test_laplacian_validation():
    a = sp.csr_matrix(_random_adjacency())
    with pytest.raises(ValueError, match=r"combinatorial.*normalized"):
        sg.laplacian(a, "random_walk")
    with pytest.raises(ValueError, match="square"):
        sg.laplacian(sp.csr_matrix(np.ones((3, 4))))
    bad = a.toarray()
    bad[0, 1] += 1.0
    with pytest.raises(ValueError, match="symmetric"):
        sg.laplacian(sp.csr_matrix(bad))
    bad = a.toarray()
    bad[0, 1] = bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sg.laplacian(sp.csr_matrix(bad))


def test_input_not_mutated():
    a = sp.csr_matrix(_random_adjacency())
    before = a.copy()
    L = sg.laplacian(a)
    Lc = L.copy()
    sg.rescale_laplacian(L, 3.0)
    sg.estimate_lmax(L)
    assert (a != before).nnz == 0
    assert (L != Lc).nnz == 0


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
def test_estimate_lmax_close_and_not_below(kind):
    g = sg.knn_graph(sg.healpix(8), k=8)
    L = g.laplacian(kind)
    true = np.linalg.eigvalsh(L.toarray())[-1]
    est = sg.estimate_lmax(L)
    assert true * (1 - 1e-6) <= est <= true * 1.01
    if kind == "normalized":
        assert sg.estimate_lmax(L, normalized_bound=True) == 2.0


def test_estimate_lmax_small_and_empty():
    a = _random_adjacency(n=10, density=0.5)
    L = sg.laplacian(a)
    true = np.linalg.eigvalsh(L.toarray())[-1]
    assert true <= sg.estimate_lmax(L) <= true * 1.01
    assert sg.estimate_lmax(sp.csr_matrix((5, 5))) == 0.0


def test_rescale_laplacian_spectrum_and_new_matrix():
    g = sg.knn_graph(sg.icosahedral(2), k=6)
    L = g.laplacian()
    data_before = L.data.copy()
    R = sg.rescale_laplacian(L)
    assert R is not L and not np.shares_memory(R.data, L.data)
    np.testing.assert_array_equal(L.data, data_before)
    ev = np.linalg.eigvalsh(R.toarray())
    assert ev.min() >= -1 - 1e-9 and ev.max() <= 1 + 1e-9
    lmax = 5.0
    np.testing.assert_allclose(
        sg.rescale_laplacian(L, lmax).toarray(),
        2 * L.toarray() / lmax - np.eye(L.shape[0]),
        atol=1e-14,
    )
    with pytest.raises(ValueError, match="lmax"):
        sg.rescale_laplacian(L, 0.0)

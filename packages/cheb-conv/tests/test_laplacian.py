import cheb_conv
import numpy as np
import pytest
import torch
from cheb_conv.testing import random_graph


def test_from_edge_index():
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    A = cheb_conv.from_edge_index(ei)
    assert A.layout == torch.sparse_csr and A.shape == (3, 3)
    np.testing.assert_array_equal(A.to_dense().numpy(), [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    A5 = cheb_conv.from_edge_index(ei, torch.tensor([1.0, 1.0, 2.0, 2.0]), num_nodes=5)
    assert A5.shape == (5, 5) and A5.to_dense()[1, 2] == 2
    with pytest.raises(ValueError, match="num_nodes"):
        cheb_conv.from_edge_index(ei, num_nodes=2)
    with pytest.raises(ValueError, match="edge_index"):
        cheb_conv.from_edge_index(torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="edge_weight"):
        cheb_conv.from_edge_index(ei, torch.ones(3))


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
def test_laplacian_and_rescale(kind):
    A = random_graph(60, 250, seed=2)
    Ad = A.to_dense().numpy()
    before = Ad.copy()
    L = cheb_conv.laplacian(A, kind)
    d = Ad.sum(1)
    if kind == "combinatorial":
        ref = np.diag(d) - Ad
    else:
        dinv = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0)
        ref = np.diag((d > 0).astype(float)) - dinv[:, None] * Ad * dinv[None]
    np.testing.assert_allclose(L.to_dense().numpy(), ref, atol=1e-12)
    np.testing.assert_array_equal(A.to_dense().numpy(), before)  # input untouched
    lmax_true = np.linalg.eigvalsh(ref).max()
    lmax = cheb_conv.estimate_lmax(L)
    assert lmax_true * 0.999 <= lmax <= lmax_true * 1.02
    Lt = cheb_conv.rescale(L)
    ev = np.linalg.eigvalsh(Lt.to_dense().numpy())
    assert ev.min() >= -1 - 1e-9 and ev.max() <= 1 + 1e-9
    if kind == "combinatorial":  # lmax = 2 is far below this spectrum: refused
        with pytest.raises(ValueError, match="below the largest eigenvalue"):
            cheb_conv.rescale(L, lmax=2.0)
        return
    Lt2 = cheb_conv.rescale(L, lmax=2.0)
    np.testing.assert_allclose(Lt2.to_dense().numpy(), ref - np.eye(60), atol=1e-12)
    assert bool((Lt2.values() != 0).all())  # stored zeros (the normalized diagonal) dropped


def test_scipy_inputs():
    sp = pytest.importorskip("scipy.sparse")
    A = random_graph(30, 80, seed=4)
    As = sp.csr_matrix(A.to_dense().numpy())
    L1 = cheb_conv.laplacian(As, "normalized")
    L2 = cheb_conv.laplacian(A, "normalized")
    torch.testing.assert_close(L1.to_dense(), L2.to_dense())
    R = cheb_conv.rescale(sp.csr_matrix(L2.to_dense().numpy()), lmax=2)
    assert R.layout == torch.sparse_csr
    op = cheb_conv.as_operator(sp.coo_matrix(L2.to_dense().numpy()), dtype=torch.float32)
    assert op.layout == torch.sparse_csr and op.dtype == torch.float32


def test_lmax_cached():
    A = random_graph(30, 80, seed=5)
    L = cheb_conv.laplacian(A)
    a = cheb_conv.estimate_lmax(L)
    from cheb_conv import _laplacian

    assert (id(L), L._version) in _laplacian._LMAX_CACHE
    assert cheb_conv.estimate_lmax(L) == a


def test_bad_kind_and_shapes():
    A = random_graph(10, 20)
    with pytest.raises(ValueError, match="kind"):
        cheb_conv.laplacian(A, "random-walk")
    with pytest.raises(ValueError, match="square"):
        cheb_conv.laplacian(torch.zeros(3, 4).to_sparse_coo())
    with pytest.raises(ValueError, match="lmax"):
        cheb_conv.rescale(cheb_conv.laplacian(A), lmax=-1)


def test_scipy_csr_canonical_and_not_against_dense():
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    dense = np.where(rng.random((12, 12)) < 0.3, rng.standard_normal((12, 12)), 0.0)
    canonical = sp.csr_matrix(dense)
    assert canonical.has_canonical_format
    # the same matrix with unsorted column indices and every entry split into two duplicates
    indptr, indices, data = [0], [], []
    for i in range(12):
        (cols,) = np.nonzero(dense[i])
        cols = np.r_[cols, cols][rng.permutation(2 * len(cols))]
        indices += list(cols)
        data += list(dense[i, cols] / 2)
        indptr.append(len(indices))
    messy = sp.csr_matrix((np.array(data), np.array(indices), np.array(indptr)), shape=(12, 12))
    assert not messy.has_canonical_format
    for mat in (canonical, messy):
        before = mat.data.copy()
        op = cheb_conv.as_operator(mat)
        np.testing.assert_allclose(op.to_dense().numpy(), dense, atol=1e-12)
        op.values().mul_(0)  # the result owns its memory: the input is untouched
        np.testing.assert_array_equal(mat.data, before)

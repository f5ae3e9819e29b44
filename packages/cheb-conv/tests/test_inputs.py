"""Input checks of laplacian() / rescale() / as_operator()."""

import cheb_conv
import numpy as np
import pytest
import torch
from cheb_conv.testing import random_graph


def test_one_directional_edge_list_is_refused_unless_directed():
    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])  # a cycle listed in one direction only
    A = cheb_conv.from_edge_index(ei, num_nodes=3)
    with pytest.raises(ValueError, match=r"not symmetric.*symmetrise.*directed=True"):
        cheb_conv.laplacian(A)
    L = cheb_conv.laplacian(A, directed=True).to_dense()
    Ad = A.to_dense()
    torch.testing.assert_close(L, torch.diag(Ad.sum(1)) - Ad)
    sym = cheb_conv.from_edge_index(torch.cat([ei, ei.flip(0)], 1), num_nodes=3)
    cheb_conv.laplacian(sym)  # the fix the message gives works


@pytest.mark.parametrize(
    "bad,match", [(float("nan"), "NaN"), (float("inf"), "NaN or infinite"), (-1.0, "negative")]
)
def test_bad_weights_are_refused(bad, match):
    A = random_graph(10, 30).to_dense()
    A[1, 2] = A[2, 1] = bad
    with pytest.raises(ValueError, match=match):
        cheb_conv.laplacian(A)
    with pytest.raises(ValueError, match=match):
        cheb_conv.laplacian(A.numpy())
    if bad != -1.0:
        with pytest.raises(ValueError, match="NaN"):
            cheb_conv.as_operator(A)


def test_numpy_dense_accepted_like_torch_dense():
    A = random_graph(12, 40).to_dense()
    for kind in ("combinatorial", "normalized"):
        a = cheb_conv.laplacian(A.numpy(), kind).to_dense()
        b = cheb_conv.laplacian(A, kind).to_dense()
        torch.testing.assert_close(a, b)
    ro = A.numpy()
    ro.setflags(write=False)  # read-only arrays are copied, not wrapped
    cheb_conv.as_operator(ro)
    cheb_conv.SparseOperator(ro)


def test_rescale_refuses_too_small_lmax():
    A = random_graph(30, 100, seed=3)
    L = cheb_conv.laplacian(A, "combinatorial")
    lam = float(np.linalg.eigvalsh(L.to_dense().numpy()).max())
    with pytest.raises(ValueError, match="below the largest eigenvalue"):
        cheb_conv.rescale(L, lmax=0.8 * lam)
    Lt = cheb_conv.rescale(L, lmax=1.001 * lam)
    ev = np.linalg.eigvalsh(Lt.to_dense().numpy())
    assert ev.min() >= -1 - 1e-9 and ev.max() <= 1 + 1e-9
    cheb_conv.rescale(cheb_conv.laplacian(A, "normalized"), lmax=2.0)  # the usual bound is accepted

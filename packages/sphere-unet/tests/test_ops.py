"""ChebBlock (a composition of cheb_conv kernels) and GraphPool against straightforward references.

The Chebyshev kernels themselves are tested in cheb-conv against its dense reference.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import sphere_graphs as sg
import torch
from cheb_conv import SparseOperator
from cheb_conv.testing import dense_reference
from sphere_unet import ChebBlock, GraphPool
from sphere_unet._levels import build_levels


def _lap(V=40, seed=0):
    A = sp.random(V, V, density=0.1, random_state=seed, dtype=np.float64)
    A = A + A.T
    L = sp.diags(np.asarray(A.sum(1)).ravel()) - A
    L = 2 * L / (np.abs(L).sum(1).max() + 1) - sp.eye(V)
    return sp.csr_matrix(L)


def _ref_vbc(L, x, W, b=None):
    """Dense float64 reference in the (V, B, C) layout."""
    y = dense_reference(x.transpose(0, 1), L, W, b)
    return torch.from_numpy(y).transpose(0, 1)


@pytest.mark.parametrize("K", [1, 3, 5])
@pytest.mark.parametrize("parts", [(5,), (3, 2)])
def test_chebblock_matches_dense_reference(K, parts):
    """Train mode (batch statistics) and eval mode (folded batch norm), one or two parts."""
    L = _lap()
    op = SparseOperator(L)
    blk = ChebBlock(parts if len(parts) > 1 else parts[0], 4, K).double()
    with torch.no_grad():
        blk.bias.normal_()
        blk.bn.running_mean.normal_()
        blk.bn.running_var.uniform_(0.5, 2)
        blk.bn.weight.normal_()
        blk.bn.bias.normal_()
    x = torch.randn(40, 3, sum(parts), dtype=torch.float64)
    xs = list(x.split(parts, dim=-1))
    z = _ref_vbc(L, x, blk.weight, blk.bias)
    blk.eval()
    ref = torch.relu(blk.bn(z.reshape(-1, 4)).view_as(z))
    torch.testing.assert_close(blk(op, *xs), ref, rtol=1e-10, atol=1e-10)
    blk.train()
    mean, var = z.reshape(-1, 4).mean(0), z.reshape(-1, 4).var(0, unbiased=False)
    ref = torch.relu((z - mean) / (var + blk.bn.eps).sqrt() * blk.bn.weight + blk.bn.bias)
    torch.testing.assert_close(blk(op, *xs), ref, rtol=1e-9, atol=1e-9)


def test_chebblock_gradcheck_with_lift():
    """The decoder form (mixing before a nearest unpooling) against the lifted input."""
    L = _lap(V=12, seed=2)
    op = SparseOperator(L)
    parent = torch.from_numpy(np.random.default_rng(3).integers(0, 5, 12))
    blk = ChebBlock(3, 2, 3, norm=False, relu=False).double()
    xc = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    lift = lambda z: z.index_select(0, parent)  # noqa: E731
    torch.testing.assert_close(blk(op, xc, lift=lift), _ref_vbc(L, lift(xc).detach(), blk.weight, blk.bias))
    assert torch.autograd.gradcheck(lambda t: blk(op, t, lift=lift), (xc,))


def test_kernel_size_alias():
    assert ChebBlock(3, 4, kernel_size=4).K == 4 == ChebBlock(3, 4, 4).kernel_size
    with pytest.raises(ValueError, match="disagree"):
        ChebBlock(3, 4, 3, kernel_size=4)


def test_eval_weight_cache_follows_every_change():
    """Inference caches the folded kernel weights; any in-place change refreshes them."""
    op = SparseOperator(_lap())
    blk = ChebBlock((3, 2), 4, 3).eval()
    x1, x2 = torch.randn(40, 3, 3), torch.randn(40, 3, 2)

    def fresh():
        blk._eval_cache = None
        with torch.enable_grad():  # uncached path
            return blk(op, x1, x2).detach()

    with torch.no_grad():
        first = blk(op, x1, x2)
        assert blk._eval_cache is not None
        torch.testing.assert_close(blk(op, x1, x2), first, rtol=0, atol=0)
        changes = [
            lambda: blk.weight.add_(0.1),
            lambda: blk.bias.add_(0.2),
            lambda: blk.bn.running_var.mul_(2.0),
            lambda: blk.bn.running_mean.add_(0.3),
            lambda: blk.bn.weight.mul_(0.5),
            lambda: blk.load_state_dict({k: v + 0.01 for k, v in blk.state_dict().items()
                                         if v.is_floating_point()}, strict=False),
        ]
        for change in changes:
            before = blk(op, x1, x2)
            change()
            after = blk(op, x1, x2)
            assert not torch.allclose(after, before)
            torch.testing.assert_close(after, fresh(), rtol=1e-6, atol=1e-6)
    blk.train()  # training never uses the cache
    y = blk(op, x1, x2)
    assert y.requires_grad and blk._eval_cache is None


@pytest.mark.parametrize("kind", ["healpix", "icosahedral", "equiangular"])
def test_avg_pool_matches_sphere_pool(kind):
    sphere_pool = pytest.importorskip("sphere_pool")
    s = {"healpix": lambda: sg.healpix(4), "icosahedral": lambda: sg.icosahedral(2),
         "equiangular": lambda: sg.equiangular(8, 16)}[kind]()
    lv = build_levels(s, 1)
    gp = GraphPool(lv[0].coarsening, "avg")
    x = torch.randn(2, s.n_vertices, 3)
    pool, _unpool = sphere_pool.for_sampling(s, mode="avg")
    ours, _ = gp.pool(x.transpose(0, 1).contiguous())
    try:
        ref = pool(x)
    except Exception as err:  # pragma: no cover - depends on the other package
        pytest.skip(f"sphere_pool.for_sampling failed: {err}")
    if ref.shape[1] != ours.shape[0]:
        pytest.skip("sphere_pool uses a different coarsening for this sampling")
    torch.testing.assert_close(ours.transpose(0, 1), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("kind", ["healpix", "icosahedral", "equiangular"])
def test_pool_unpool_shapes_and_grad(kind, mode):
    s = {"healpix": lambda: sg.healpix(4), "icosahedral": lambda: sg.icosahedral(2),
         "equiangular": lambda: sg.equiangular(8, 16)}[kind]()
    c = build_levels(s, 1)[0].coarsening
    gp = GraphPool(c, mode)
    x = torch.randn(s.n_vertices, 2, 3, requires_grad=True)
    y, idx = gp.pool(x)
    assert y.shape == (c.coarse.n_vertices, 2, 3)
    z = gp.unpool(y, idx)
    assert z.shape == x.shape
    z.sum().backward()
    assert torch.isfinite(x.grad).all()
    if mode == "max":  # every pooled value is one of its children's values
        ch = torch.as_tensor(np.where(c.children >= 0, c.children, 0))
        assert torch.all(y <= x.detach()[ch].amax(1) + 1e-6)


@pytest.mark.parametrize("kind", ["healpix", "icosahedral", "equiangular"])
def test_nearest_unpool_matches_sphere_pool_and_gradcheck(kind):
    """Nearest unpooling == sphere_pool.unpool_nearest; float64 gradcheck of pool and unpool."""
    import sphere_pool

    s = {"healpix": lambda: sg.healpix(4), "icosahedral": lambda: sg.icosahedral(2),
         "equiangular": lambda: sg.equiangular(8, 16)}[kind]()
    c = build_levels(s, 1)[0].coarsening
    gp = GraphPool(c, "avg").double()
    y = torch.randn(c.coarse.n_vertices, 2, 3, dtype=torch.float64, requires_grad=True)
    ref = sphere_pool.unpool_nearest(y.detach().transpose(0, 1), torch.as_tensor(np.array(c.parent)))
    torch.testing.assert_close(gp.unpool(y).transpose(0, 1), ref, rtol=0, atol=0)
    assert torch.autograd.gradcheck(lambda t: gp.unpool(t), (y,))
    x = torch.randn(c.fine.n_vertices, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: gp.pool(t)[0], (x,))

"""The fused Chebyshev kernel and the layers against straightforward references."""

import numpy as np
import pytest
import scipy.sparse as sp
import sphere_graphs as sg
import torch
from sphere_unet import ChebBlock, GraphOperator, GraphPool, cheb_polynomial
from sphere_unet._levels import build_levels


def _lap(V=40, seed=0):
    np.random.default_rng(seed)
    A = sp.random(V, V, density=0.1, random_state=seed, dtype=np.float64)
    A = A + A.T
    L = sp.diags(np.asarray(A.sum(1)).ravel()) - A
    L = 2 * L / (np.abs(L).sum(1).max() + 1) - sp.eye(V)
    return sp.csr_matrix(L)


def _reference(L, x, W, b):  # x (V, B, Cin), W (K, Cin, Cout)
    Ld = torch.tensor(L.toarray(), dtype=torch.float64)
    T = [x, torch.einsum("uv,vbc->ubc", Ld, x)]
    for _ in range(2, W.shape[0]):
        T.append(2 * torch.einsum("uv,vbc->ubc", Ld, T[-1]) - T[-2])
    return sum(torch.einsum("vbc,cd->vbd", t, w) for t, w in zip(T, W, strict=False)) + b


@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("cin,cout", [(3, 7), (7, 3)])
def test_cheb_polynomial_matches_reference(K, cin, cout):
    L = _lap()
    op = GraphOperator(L)
    x = torch.randn(40, 2, cin, dtype=torch.float64)
    W = torch.randn(K, cin, cout, dtype=torch.float64)
    b = torch.randn(cout, dtype=torch.float64)
    y = cheb_polynomial(op.matrix(torch.float64), [x], [W], b)
    torch.testing.assert_close(y, _reference(L, x, W, b), rtol=1e-5, atol=1e-5)
    # implicit concatenation of two parts
    y2 = cheb_polynomial(op.matrix(torch.float64), [x[..., :2], x[..., 2:]], [W[:, :2], W[:, 2:]], b)
    torch.testing.assert_close(y2, _reference(L, x, W, b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("K", [1, 3, 4, 6])
def test_cheb_polynomial_lift_mixes_on_coarse_rows(K):
    """``lift`` (nearest unpooling) before the convolution == mixing on coarse rows."""
    L = _lap()
    op = GraphOperator(L)
    parent = torch.from_numpy(np.random.default_rng(3).integers(0, 11, 40))
    lift = lambda z: z.index_select(0, parent)  # noqa: E731
    xc = torch.randn(11, 2, 5, dtype=torch.float64, requires_grad=True)
    W = torch.randn(K, 5, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    y = cheb_polynomial(op.matrix(torch.float64), [xc], [W], b, lift=lift)
    L_stored = sp.csr_matrix(op.matrix(torch.float64).to_dense().numpy())  # float32-rounded
    torch.testing.assert_close(y, _reference(L_stored, lift(xc), W, b), rtol=1e-10, atol=1e-10)
    f = lambda xc, W, b: cheb_polynomial(op.matrix(torch.float64), [xc], [W], b, lift=lift)  # noqa: E731
    assert torch.autograd.gradcheck(f, (xc, W, b))


@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("cin,cout", [(3, 5), (5, 3)])
def test_cheb_polynomial_gradcheck(K, cin, cout):
    """float64 gradcheck of every evaluation order (basis first, mix first, parts, Clenshaw)."""
    mat = GraphOperator(_lap(V=12, seed=2)).matrix(torch.float64)
    x = torch.randn(12, 2, cin, dtype=torch.float64, requires_grad=True)
    W = torch.randn(K, cin, cout, dtype=torch.float64, requires_grad=True)
    b = torch.randn(cout, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, W, b: cheb_polynomial(mat, [x], [W], b), (x, W, b))
    two = lambda x, W, b: cheb_polynomial(mat, [x[..., :1], x[..., 1:]], [W[:, :1], W[:, 1:]], b)  # noqa: E731
    assert torch.autograd.gradcheck(two, (x, W, b))


def test_cheb_gradients_match_reference():
    L = _lap()
    op = GraphOperator(L)
    x = torch.randn(40, 2, 4, dtype=torch.float64, requires_grad=True)
    W = torch.randn(3, 4, 6, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(6, dtype=torch.float64)
    for cin_first in (True, False):
        w_used = W if cin_first else W.transpose(1, 2).transpose(1, 2)
        g1 = torch.autograd.grad(cheb_polynomial(op.matrix(torch.float64), [x], [w_used], b).square().sum(), (x, W))
        g2 = torch.autograd.grad(_reference(L, x, W, b).square().sum(), (x, W))
        for a, r in zip(g1, g2, strict=False):
            torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-5)


def test_matches_cheb_conv_package():
    cheb_conv = pytest.importorskip("cheb_conv")
    L = _lap()
    x = torch.randn(2, 40, 5)
    W = torch.randn(3, 5, 4)
    b = torch.randn(4)
    ref = cheb_conv.cheb_conv(x, L, W, b)
    ours = cheb_polynomial(GraphOperator(L).matrix(), [x.transpose(0, 1).contiguous()], [W], b).transpose(0, 1)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


def test_eval_folds_batch_norm_exactly():
    op = GraphOperator(_lap())
    blk = ChebBlock(5, 4, 3)
    blk.bn.running_mean.normal_()
    blk.bn.running_var.uniform_(0.5, 2)
    blk.bn.weight.data.normal_()
    blk.bn.bias.data.normal_()
    blk.eval()
    x = torch.randn(40, 3, 5)
    y = blk(op.matrix(), x)
    z = cheb_polynomial(op.matrix(), [x], [blk.weight], blk.bias)
    ref = torch.relu(blk.bn(z.view(-1, 4)).view_as(z))
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)


def test_eval_weight_cache_follows_every_change():
    """Inference caches the folded kernel weights; any in-place change refreshes them."""
    op = GraphOperator(_lap())
    blk = ChebBlock((3, 2), 4, 3).eval()
    x1, x2 = torch.randn(40, 3, 3), torch.randn(40, 3, 2)

    def fresh():
        blk._eval_cache = None
        with torch.enable_grad():  # uncached path
            return blk(op.matrix(), x1, x2).detach()

    with torch.no_grad():
        first = blk(op.matrix(), x1, x2)
        assert blk._eval_cache is not None
        torch.testing.assert_close(blk(op.matrix(), x1, x2), first, rtol=0, atol=0)
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
            before = blk(op.matrix(), x1, x2)
            change()
            after = blk(op.matrix(), x1, x2)
            assert not torch.allclose(after, before)
            torch.testing.assert_close(after, fresh(), rtol=1e-6, atol=1e-6)
    blk.train()  # training never uses the cache
    y = blk(op.matrix(), x1, x2)
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
    ref = sphere_pool.unpool_nearest(y.detach().transpose(0, 1), torch.as_tensor(c.parent))
    torch.testing.assert_close(gp.unpool(y).transpose(0, 1), ref, rtol=0, atol=0)
    assert torch.autograd.gradcheck(lambda t: gp.unpool(t), (y,))
    x = torch.randn(c.fine.n_vertices, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: gp.pool(t)[0], (x,))

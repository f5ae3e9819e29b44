"""ChebBlock (a composition of cheb_conv kernels) and the models' pooling against straightforward references.

The Chebyshev kernels are tested in cheb-conv against its dense reference, the
pooling ops in sphere-pool; here only their composition and wiring.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import sphere_graphs as sg
import torch
from cheb_conv import SparseOperator, sparse_apply
from cheb_conv.testing import dense_reference
from sphere_unet import ChebBlock, SphericalUNet


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
    torch.testing.assert_close(
        blk(op, xc, lift=lift), _ref_vbc(L, lift(xc).detach(), blk.weight, blk.bias)
    )
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
            lambda: blk.load_state_dict(
                {k: v + 0.01 for k, v in blk.state_dict().items() if v.is_floating_point()},
                strict=False,
            ),
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


SAMPLINGS = {
    "healpix": lambda: sg.healpix(4),
    "icosahedral": lambda: sg.icosahedral(2),
    "equiangular": lambda: sg.equiangular(16, 32),
}


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("kind", list(SAMPLINGS))
def test_model_pools_follow_the_coarsening(kind, mode):
    """Each pooling of a model equals a numpy reduction over its coarsening's children table."""
    s = SAMPLINGS[kind]()
    m = SphericalUNet(s, 1, 1, depth=2, width=2, pool=mode).double()
    for level, (c, gp) in enumerate(zip(sg.hierarchy(s, 2), m.stack.pools, strict=True)):
        x = np.random.default_rng(level).normal(size=(c.fine.n_vertices, 2, 3))
        children = np.asarray(c.children)
        valid = children >= 0
        g = x[np.where(valid, children, 0)]  # (V_coarse, G, B, C)
        if mode == "max":
            ref = np.where(valid[:, :, None, None], g, -np.inf).max(1)
        else:
            ref = (g * valid[:, :, None, None]).sum(1) / valid.sum(1)[:, None, None]
        y, _ = gp.pool(torch.from_numpy(x), False)
        np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)
        up = gp.unpool(torch.from_numpy(ref))  # nearest: every fine vertex copies its parent
        np.testing.assert_array_equal(up.numpy(), ref[np.asarray(c.parent)])
        lifted = sparse_apply(m.stack.lift(level), torch.from_numpy(ref))  # the decoder's lift
        np.testing.assert_array_equal(lifted.numpy(), ref[np.asarray(c.parent)])


def _forward_with_callable_lift(m, x):
    """The model's forward with the decoder lifting by ``VertexPool.unpool`` (a callable)."""
    skips, _ = m.encode(x.transpose(0, 1).contiguous())
    h = skips[-1]
    for j, (up, merge) in enumerate(zip(m.up, m.merge, strict=True)):
        level = m.depth - 1 - j
        lap = m.stack.laplacian(level)
        h = up(lap, h, lift=m.stack.pooling(level).unpool)
        if isinstance(merge, ChebBlock):
            h = merge(lap, h, skips[level])
    return m.head(m.stack.laplacian(0), h).transpose(0, 1)


@pytest.mark.parametrize("kind", list(SAMPLINGS))
def test_decoder_lift_matrix_matches_unpooling(kind):
    """The decoder's lift matrices (one sparse product per block) give the model that
    unpools with ``VertexPool.unpool`` first: values in eval and train mode, gradients."""
    torch.manual_seed(0)
    m = SphericalUNet(SAMPLINGS[kind](), 2, 3, depth=2, width=4).double()
    x = torch.randn(2, m.n_vertices, 2, dtype=torch.float64)
    m.eval()
    with torch.no_grad():
        torch.testing.assert_close(m(x), _forward_with_callable_lift(m, x))
    m.train()
    grads = []
    for f in (m, lambda t: _forward_with_callable_lift(m, t)):
        m.zero_grad()
        f(x).square().sum().backward()
        grads.append([p.grad.clone() for p in m.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)

"""VertexPool and the (V, B, C) ops: dense numpy references, float64 gradcheck,
relabelling (permutation) invariance and exact-symmetry equivariance."""

import numpy as np
import pytest
import sphere_graphs as sg
import sphere_pool
import torch
from sphere_graphs.testing import assert_equivariant, rotation_z

CASES = {
    "healpix": lambda: sg.coarsen(sg.healpix(4)),
    "healpix_partial": lambda: sg.coarsen(
        sg.healpix(4, indices=sg.healpix_closure(4, [0, 17, 90], 1))
    ),
    "icosahedral": lambda: sg.coarsen(sg.icosahedral(2)),
    "equiangular": lambda: sg.coarsen(sg.equiangular(8, 16)),
}


def _dense_ref(c, x, mode):
    """Pooling by loops over the children (numpy, (V, B, C))."""
    out = []
    for row in c.children:
        kids = row[row >= 0]
        out.append(x[kids].mean(0) if mode == "avg" else x[kids].max(0))
    return np.stack(out)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("mode", ["avg", "max"])
def test_pool_and_unpool_match_references(name, mode):
    c = CASES[name]()
    vp = sphere_pool.VertexPool(c, mode)
    assert vp.blocks == name.startswith("healpix")  # closed subsets are blocks too
    x = torch.randn(c.fine.n_vertices, 2, 3, dtype=torch.float64)
    y, idx = vp.pool(x)
    np.testing.assert_allclose(y.numpy(), _dense_ref(c, x.numpy(), mode), rtol=1e-12)
    np.testing.assert_array_equal(vp.unpool(y).numpy(), y.numpy()[c.parent])  # nearest
    if mode == "max":
        # indices point at fine vertices holding the maxima
        np.testing.assert_array_equal(np.take_along_axis(x.numpy(), idx.numpy(), 0), y.numpy())
        back = vp.unpool(y, idx).numpy()
        expect = np.zeros_like(x.numpy())
        np.put_along_axis(expect, idx.numpy(), y.numpy(), 0)
        np.testing.assert_array_equal(back, expect)
        assert vp.pool(x, return_indices=False)[1] is None
    else:
        assert idx is None


@pytest.mark.parametrize("name", list(CASES))
def test_float64_gradcheck(name):
    c = CASES[name]()
    x = torch.randn(c.fine.n_vertices, 2, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randn(c.coarse.n_vertices, 2, 2, dtype=torch.float64, requires_grad=True)
    avg, mx = sphere_pool.VertexPool(c, "avg"), sphere_pool.VertexPool(c, "max")
    assert torch.autograd.gradcheck(lambda t: avg.pool(t)[0], (x,))
    assert torch.autograd.gradcheck(lambda t: mx.pool(t)[0], (x,))
    assert torch.autograd.gradcheck(lambda t: avg.unpool(t), (y,))
    _, idx = mx.pool(x.detach())
    assert torch.autograd.gradcheck(lambda t: mx.unpool(t, idx), (y,))


def _relabelled(c, pf, pc):
    """The coarsening with fine vertex i renamed pf[i] and coarse j renamed pc[j]."""
    children = np.full_like(c.children, -1)
    children[pc] = np.where(c.children >= 0, pf[np.maximum(c.children, 0)], -1)
    parent = np.empty_like(c.parent)
    parent[pf] = pc[c.parent]
    return sphere_pool.PoolingMaps.from_arrays(children, parent)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("mode", ["avg", "max"])
def test_relabelling_vertices_relabels_the_output(name, mode):
    c = CASES[name]()
    rng = np.random.default_rng(1)
    pf, pc = rng.permutation(c.fine.n_vertices), rng.permutation(c.coarse.n_vertices)
    a, b = sphere_pool.VertexPool(c, mode), sphere_pool.VertexPool(_relabelled(c, pf, pc), mode)
    x = torch.randn(c.fine.n_vertices, 2, 3, dtype=torch.float64)
    xr = torch.empty_like(x)
    xr[pf] = x
    ya, ia = a.pool(x)
    yb, ib = b.pool(xr)
    tol = {"rtol": 1e-12, "atol": 1e-14} if mode == "avg" else {"rtol": 0, "atol": 0}
    torch.testing.assert_close(yb[pc], ya, **tol)  # mean by reshape vs sparse product
    torch.testing.assert_close(b.unpool(yb)[pf], a.unpool(ya), **tol)
    if mode == "max":
        np.testing.assert_array_equal(ib[pc].numpy(), pf[ia.numpy()])
        torch.testing.assert_close(b.unpool(yb, ib)[pf], a.unpool(ya, ia), rtol=0, atol=0)
    # the (B, V, C) modules relabel the same way
    pool_a = sphere_pool.Pool(c, mode)
    pool_b = sphere_pool.Pool(_relabelled(c, pf, pc), mode)
    out_a, out_b = pool_a(x.permute(1, 0, 2)), pool_b(xr.permute(1, 0, 2))
    out_a = out_a[0] if mode == "max" else out_a
    out_b = out_b[0] if mode == "max" else out_b
    torch.testing.assert_close(out_b[:, pc], out_a, **tol)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_pool_commutes_with_healpix_quarter_turn(mode):
    c = sg.coarsen(sg.healpix(8))
    vp = sphere_pool.VertexPool(c, mode)

    def fn(x):  # (B, V, C) numpy -> (B, V_c, C)
        t = torch.from_numpy(x).permute(1, 0, 2).contiguous()
        return vp.pool(t)[0].permute(1, 0, 2).numpy()

    assert_equivariant(fn, c.fine, rotation_z(np.pi / 2), output_sampling=c.coarse, atol=0)

    def unpool(y):
        return vp.unpool(torch.from_numpy(y).permute(1, 0, 2).contiguous()).permute(1, 0, 2).numpy()

    assert_equivariant(unpool, c.coarse, rotation_z(np.pi / 2), output_sampling=c.fine, atol=0)


def test_buffers_are_not_persistent_and_inputs_checked():
    vp = sphere_pool.VertexPool(CASES["icosahedral"](), "avg")
    assert vp.state_dict() == {}
    with pytest.raises(ValueError, match="V, B, C"):
        vp.pool(torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match="mode"):
        sphere_pool.VertexPool(CASES["healpix"](), "sum")
    mx = sphere_pool.VertexPool(CASES["healpix"](), "max")
    y, idx = mx.pool(torch.randn(192, 1, 1))
    with pytest.raises(ValueError, match="indices"):
        mx.unpool(y, idx.to(torch.int32))
    # float32 operators are built on demand
    out = vp.pool(torch.randn(162, 1, 2, dtype=torch.float32))[0]
    assert out.dtype == torch.float32 and out.shape == (42, 1, 2)


@pytest.mark.parametrize("name", ["icosahedral", "equiangular"])
def test_bfloat16_autocast_pools_in_float32(name):
    """Sparse CSR products have no bfloat16 CPU kernel: half inputs pool in float32."""
    c = CASES[name]()
    vp = sphere_pool.VertexPool(c, "avg")
    x = torch.randn(c.fine.n_vertices, 2, 3)
    ref = _dense_ref(c, x.numpy(), "avg")
    xb = x.to(torch.bfloat16).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, _ = vp.pool(xb)
        up = vp.unpool(y)
    assert y.dtype == torch.bfloat16 and up.dtype == torch.bfloat16
    np.testing.assert_allclose(y.detach().float().numpy(), ref, atol=3e-2)
    up.float().sum().backward()  # the gather's sparse backward in half precision
    assert (
        xb.grad is not None
        and xb.grad.dtype == torch.bfloat16
        and torch.isfinite(xb.grad.float()).all()
    )

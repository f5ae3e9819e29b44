"""Generic layers from hand-made Coarsening objects: padding, overlaps, gradients."""

import numpy as np
import pytest
import scipy.sparse as sp
import sphere_pool
import torch
from sphere_graphs import Coarsening, PointSampling
from sphere_pool import Pool, PoolingMaps, Unpool


def _pts(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 3))
    return PointSampling(coords=x / np.linalg.norm(x, axis=1, keepdims=True))


def overlapping():
    """6 fine vertices, 3 coarse; groups overlap and are padded; coarse = first 3 (decimation)."""
    children = np.array([[0, 3, 4, -1], [1, 3, 5, 4], [2, 5, -1, -1]])
    parent = np.array([0, 1, 2, 0, 1, 1])
    rows = [0, 1, 2, 3, 3, 4, 4, 5, 5]
    cols = [0, 1, 2, 0, 1, 0, 1, 1, 2]
    w = [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    interp = sp.csr_matrix((w, (rows, cols)), shape=(6, 3))
    return Coarsening(_pts(6), _pts(3), children, parent, interp, np.arange(3))


def test_avg_and_max_against_loops():
    c = overlapping()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    y = Pool(c, "avg")(x)
    ym, idx = Pool(c, "max")(x)
    for v, row in enumerate(c.children):
        kids = row[row >= 0]
        torch.testing.assert_close(y[:, v], x[:, kids].mean(1))
        torch.testing.assert_close(ym[:, v], x[:, kids].max(1).values)
        assert set(idx[:, v].unique().tolist()) <= set(kids.tolist())
    torch.testing.assert_close(torch.gather(x, 1, idx), ym)


def test_unpool_modes():
    c = overlapping()
    y = torch.arange(1.0, 4.0).view(1, 3, 1)
    assert Unpool(c, "nearest")(y).flatten().tolist() == [1, 2, 3, 1, 2, 2]
    assert Unpool(c, "interpolate")(y).flatten().tolist() == [1, 2, 3, 1.5, 1.5, 2.5]
    assert Unpool(c, "zeros")(y).flatten().tolist() == [1, 2, 3, 0, 0, 0]
    assert Unpool(c, "deepsphere_ones")(y).flatten().tolist() == [1, 2, 3, 1, 1, 1]
    assert Pool(c, "decimate")(torch.arange(6.0).view(1, 6, 1)).flatten().tolist() == [0, 1, 2]


def test_max_unpool_overlapping_puts_values_back():
    c = overlapping()
    x = torch.randn(3, 6, 4)
    y, idx = Pool(c, "max")(x)
    out = Unpool(c, "max")(y, idx)
    mask = torch.zeros_like(x, dtype=torch.bool).scatter(1, idx, True)
    torch.testing.assert_close(out[mask], x[mask])
    assert torch.all(out[~mask] == 0)


def test_chained_steps_compose_indices():
    fine = PoolingMaps.from_arrays(np.arange(16).reshape(4, 4), np.arange(16) // 4)
    coarse = PoolingMaps.from_arrays(np.arange(4).reshape(2, 2), np.arange(4) // 2)
    one = PoolingMaps.from_arrays(np.arange(16).reshape(2, 8), np.arange(16) // 8)
    x = torch.randn(2, 16, 3)
    y2, i2 = Pool([fine, coarse], "max")(x)
    y1, i1 = Pool(one, "max")(x)
    torch.testing.assert_close(y2, y1)
    assert torch.equal(i2, i1)
    torch.testing.assert_close(Pool([fine, coarse], "avg")(x), Pool(one, "avg")(x))
    torch.testing.assert_close(Unpool([fine, coarse], "max")(y2, i2), Unpool(one, "max")(y1, i1))
    torch.testing.assert_close(Unpool([fine, coarse])(y1), Unpool(one)(y1))


def test_fast_path_matches_gather_path():
    maps = PoolingMaps.from_arrays(np.arange(12).reshape(3, 4), np.arange(12) // 4)
    assert maps.group == 4
    x = torch.randn(2, 12, 5)
    children = torch.tensor(maps.children)
    torch.testing.assert_close(
        sphere_pool.pool_avg(x, children, 4), sphere_pool.pool_avg(x, children)
    )
    a, ia = sphere_pool.pool_max(x, children, 4)
    b, ib = sphere_pool.pool_max(x, children)
    torch.testing.assert_close(a, b)
    assert torch.equal(ia, ib)


@pytest.mark.parametrize("mode", ["avg", "max", "decimate"])
def test_gradcheck_pool(mode):
    c = overlapping()
    pool = Pool(c, mode)
    x = torch.randn(2, 6, 2, dtype=torch.float64, requires_grad=True)
    fn = (lambda t: pool(t)[0]) if mode == "max" else pool
    assert torch.autograd.gradcheck(fn, (x,))


@pytest.mark.parametrize("mode", ["nearest", "interpolate", "zeros", "deepsphere_ones", "max"])
def test_gradcheck_unpool(mode):
    c = overlapping()
    unpool = Unpool(c, mode)
    y = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    if mode == "max":
        _, idx = Pool(c, "max")(torch.randn(2, 6, 2, dtype=torch.float64))
        assert torch.autograd.gradcheck(lambda t: unpool(t, idx), (y,))
    else:
        assert torch.autograd.gradcheck(unpool, (y,))


def test_buffers_non_persistent_and_move():
    c = overlapping()
    pool, unpool = Pool(c, "max"), Unpool(c, "interpolate")
    assert pool.state_dict() == {} and unpool.state_dict() == {}
    assert {n for n, _ in unpool.named_buffers()} >= {
        "parent_0",
        "interp_index_0",
        "interp_weight_0",
    }
    unpool.to(torch.float32)
    out = unpool(torch.ones(1, 3, 2))
    assert out.dtype == torch.float32


def test_errors():
    c = overlapping()
    with pytest.raises(ValueError, match="V=6"):
        Pool(c, "avg")(torch.randn(1, 7, 2))
    with pytest.raises(ValueError, match=r"\(B, V, C\)"):
        Pool(c, "avg")(torch.randn(6, 2))
    with pytest.raises(ValueError, match="indices"):
        Unpool(c, "max")(torch.randn(1, 3, 2))
    with pytest.raises(ValueError, match="pooling mode"):
        Pool(c, "median")
    bad = Coarsening(
        _pts(4),
        _pts(1),
        np.array([[0, 1, 2, 3]]),
        np.zeros(4, np.int64),
        sp.csr_matrix(np.ones((4, 1))),
    )
    with pytest.raises(ValueError, match="kept"):
        Unpool(bad, "zeros")
    with pytest.raises(ValueError, match="no children"):
        PoolingMaps.from_arrays([[0, 1], [-1, -1]], [0, 0])
    with pytest.raises(ValueError, match="do not chain"):
        Pool([PoolingMaps.from_arrays([[0, 1]], [0, 0]), PoolingMaps.from_arrays([[0, 1]], [0, 0])])


def test_index_maps_follow_to_device():
    c = overlapping()
    for module in (Pool(c, "max"), Unpool(c, "interpolate")):
        module.to("meta")
        assert all(b.device.type == "meta" for b in module.buffers())

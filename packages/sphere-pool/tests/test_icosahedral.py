"""Icosahedral pooling l -> l-1: decimation, neighbourhoods, unpooling modes."""

import numpy as np
import pytest
import sphere_graphs
import torch
from sphere_pool import (
    IcosahedralPool,
    IcosahedralUnpool,
    Unpool,
    for_sampling,
    maps_from_coarsening,
)


def nv(level):
    return 10 * 4**level + 2


def test_maps_from_faces_follow_the_spec(samplings):
    s = samplings.icosahedral(2)
    m = IcosahedralPool(s, "avg").maps[0]
    assert m.children.shape[0] == nv(1) and m.children.shape[1] == 7
    assert np.array_equal(m.children[:, 0], np.arange(nv(1)))
    n_kids = (m.children >= 0).sum(1)
    assert sorted(set(n_kids.tolist())) == [6, 7] and (n_kids == 6).sum() == 12
    assert not m.disjoint and np.array_equal(m.kept, np.arange(nv(1)))
    # midpoints: parent is an endpoint; interpolation is the mean of both endpoints
    coords = s.coords
    mids = np.arange(nv(1), nv(2))
    ends = m.interp_index[mids]
    mean = coords[ends].sum(1)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    np.testing.assert_allclose(mean, coords[mids], atol=1e-9)
    assert np.all(m.interp_weight[mids] == 0.5)
    assert np.all(m.parent[mids] == ends.min(1))


def test_children_are_the_mesh_neighbourhoods(samplings):
    # independent reference: a dense vertex adjacency of the fine mesh's faces
    s = samplings.icosahedral(3)
    n = s.n_vertices
    adj = np.zeros((n, n), dtype=bool)
    for a, b in ((0, 1), (1, 2), (2, 0)):
        adj[s.faces[:, a], s.faces[:, b]] = adj[s.faces[:, b], s.faces[:, a]] = True
    m = maps_from_coarsening(sphere_graphs.coarsen(s))
    for v in range(nv(2)):
        expected = {v} | set(np.flatnonzero(adj[v]).tolist())
        assert set(m.children[v][m.children[v] >= 0].tolist()) == expected
    # interpolation: kept vertices copy themselves, a midpoint averages its two endpoints
    dense = _dense(m)
    np.testing.assert_array_equal(dense[: nv(2)], np.eye(nv(2)))
    for v in range(nv(2), n):
        ends = np.flatnonzero(adj[v, : nv(2)])
        assert ends.size == 2 and np.allclose(dense[v, ends], 0.5) and dense[v].sum() == 1.0
    assert np.array_equal(IcosahedralPool(s, "avg").maps[0].children, m.children)


def _dense(m):
    out = np.zeros((m.n_fine, m.n_coarse))
    np.add.at(
        out,
        (np.repeat(np.arange(m.n_fine), m.interp_index.shape[1]), m.interp_index.ravel()),
        m.interp_weight.ravel(),
    )
    return out


def test_decimation_and_neighbourhood_pooling(samplings):
    s = samplings.icosahedral(2)
    x = torch.randn(2, nv(2), 3)
    torch.testing.assert_close(IcosahedralPool(s, "decimate")(x), x[:, : nv(1)])
    pool = IcosahedralPool(s, "avg")
    kids = pool.maps[0].children
    y = pool(x)
    for v in (0, 11, 12, 41):
        k = kids[v][kids[v] >= 0]
        torch.testing.assert_close(y[:, v], x[:, k].mean(1))
    ym, idx = IcosahedralPool(s, "max")(x)
    torch.testing.assert_close(ym, torch.gather(x, 1, idx))
    assert torch.all(ym >= x[:, : nv(1)])


def test_unpool_modes(samplings):
    s = samplings.icosahedral(2)
    y = torch.randn(2, nv(1), 3)
    for mode in ("nearest", "interpolate", "zeros", "deepsphere_ones"):
        out = IcosahedralUnpool(s, mode)(y)
        assert out.shape == (2, nv(2), 3)
        torch.testing.assert_close(out[:, : nv(1)], y)
    assert torch.all(IcosahedralUnpool(s, "zeros")(y)[:, nv(1) :] == 0)
    assert torch.all(IcosahedralUnpool(s, "deepsphere_ones")(y)[:, nv(1) :] == 1)
    # constant signals survive interpolation
    torch.testing.assert_close(
        IcosahedralUnpool(s, "interpolate")(torch.ones(1, nv(1), 1)), torch.ones(1, nv(2), 1)
    )


def test_max_round_trip_overlapping(samplings):
    s = samplings.icosahedral(2)
    pool, unpool = for_sampling(s, "max")
    x = torch.randn(2, nv(2), 4)
    y, idx = pool(x)
    out = unpool(y, idx)
    mask = torch.zeros_like(x, dtype=torch.bool).scatter(1, idx, True)
    torch.testing.assert_close(out[mask], x[mask])
    assert torch.all(out[~mask] == 0)


def test_two_levels(samplings):
    s = samplings.icosahedral(2)
    pool, unpool = for_sampling(s, "avg", levels=2)
    y = pool(torch.randn(1, nv(2), 2))
    assert y.shape == (1, nv(0), 2) and unpool(y).shape == (1, nv(2), 2)
    y, idx = for_sampling(s, "max", levels=2)[0](torch.randn(1, nv(2), 2))
    assert y.shape == idx.shape == (1, 12, 2) and int(idx.max()) < nv(2)
    with pytest.raises(ValueError, match="levels"):
        IcosahedralPool(s, "max", levels=3)


@pytest.mark.parametrize("mode", ["avg", "max", "decimate"])
def test_gradcheck_pool(samplings, mode):
    pool = IcosahedralPool(samplings.icosahedral(1), mode)
    x = torch.randn(1, nv(1), 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck((lambda t: pool(t)[0]) if mode == "max" else pool, (x,))


@pytest.mark.parametrize("mode", ["nearest", "interpolate", "zeros", "deepsphere_ones", "max"])
def test_gradcheck_unpool(samplings, mode):
    s = samplings.icosahedral(1)
    unpool = IcosahedralUnpool(s, mode)
    y = torch.randn(1, nv(0), 2, dtype=torch.float64, requires_grad=True)
    if mode == "max":
        _, idx = IcosahedralPool(s, "max")(torch.randn(1, nv(1), 2, dtype=torch.float64))
        assert torch.autograd.gradcheck(lambda t: unpool(t, idx), (y,))
    else:
        assert torch.autograd.gradcheck(unpool, (y,))


def test_wrong_v(samplings):
    pool, unpool = for_sampling(samplings.icosahedral(2), "avg")
    with pytest.raises(ValueError, match=r"V=162.*IcosahedralSampling\(level=2\).*got V=42"):
        pool(torch.randn(1, 42, 3))
    assert isinstance(unpool, Unpool)

"""Equiangular 2x2 (lat x lon) pooling on row-major grids."""

import numpy as np
import pytest
import sphere_graphs
import torch
from sphere_pool import EquiangularPool, EquiangularUnpool, Pool, Unpool, for_sampling


@pytest.mark.parametrize("levels", [1, 2])
def test_pool_matches_blocks_and_generic(samplings, levels):
    nlat, nlon, f = 8, 16, 2**levels
    s = samplings.equiangular(nlat, nlon)
    x = torch.randn(2, nlat * nlon, 3, dtype=torch.float64)
    grid = x.view(2, nlat // f, f, nlon // f, f, 3)
    y = EquiangularPool(s, "avg", levels)(x)
    torch.testing.assert_close(y, grid.mean(dim=(2, 4)).reshape(2, -1, 3))
    ym, idx = EquiangularPool(s, "max", levels)(x)
    torch.testing.assert_close(ym, grid.amax(dim=(2, 4)).reshape(2, -1, 3))
    maps = sphere_graphs.hierarchy(s, levels)  # 2x2 steps, pooled by gathers
    gy, gidx = Pool(maps, "max")(x)
    torch.testing.assert_close(ym, gy)
    assert torch.equal(idx, gidx)
    torch.testing.assert_close(Pool(maps, "avg")(x), y)


def test_unpool(samplings):
    s = samplings.equiangular(4, 6)
    pool, unpool = for_sampling(s, "avg")
    coarse = torch.randn(1, 6, 2)
    x = coarse.view(1, 2, 1, 3, 1, 2).expand(1, 2, 2, 3, 2, 2).reshape(1, 24, 2)
    torch.testing.assert_close(pool(x), coarse)
    torch.testing.assert_close(unpool(coarse), x)
    pool, unpool = for_sampling(s, "max")
    x = torch.randn(3, 24, 2)
    y, idx = pool(x)
    out = unpool(y, idx)
    torch.testing.assert_close(torch.gather(out, 1, idx), y)
    assert int((out != 0).sum()) == y.numel()


def test_odd_sizes_and_pole_rows_error(samplings):
    with pytest.raises(ValueError, match=r"levels=1 .*at most 0.*got \(5, 8\)"):
        for_sampling(samplings.equiangular(5, 8), "max")
    with pytest.raises(ValueError, match=r"levels=2 .*at most 1.*coarsening 2 fails.*got \(4, 3\)"):
        EquiangularPool(nlat=8, nlon=6, levels=2)
    with pytest.raises(ValueError, match="poles=2"):
        EquiangularPool(samplings.equiangular(8, 16, poles=2))
    with pytest.raises(ValueError, match=r"V=32.*grid \(4, 8\)"):
        EquiangularPool(nlat=4, nlon=8)(torch.randn(1, 31, 1))


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_gradcheck(mode):
    pool = EquiangularPool(nlat=4, nlon=4, mode=mode)
    unpool = EquiangularUnpool(nlat=4, nlon=4, mode="max" if mode == "max" else "nearest")
    x = torch.randn(1, 16, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 4, 2, dtype=torch.float64, requires_grad=True)
    if mode == "max":
        _, idx = pool(x.detach())
        assert torch.autograd.gradcheck(lambda t: pool(t)[0], (x,))
        assert torch.autograd.gradcheck(lambda t: unpool(t, idx), (y,))
    else:
        assert torch.autograd.gradcheck(pool, (x,))
        assert torch.autograd.gradcheck(unpool, (y,))
    assert np.array_equal(unpool.maps[0].parent, [0, 0, 1, 1] * 2 + [2, 2, 3, 3] * 2)
    assert isinstance(unpool, Unpool)


def test_interpolate_unpool_uses_sphere_graphs_weights(samplings):
    import sphere_graphs

    s = samplings.equiangular(8, 16)
    c = sphere_graphs.coarsen(s)
    _, unpool = for_sampling(s, "avg", unpool_mode="interpolate")
    y = torch.randn(2, 32, 3, dtype=torch.float64)
    ref = np.stack([c.interpolation @ y[b].numpy() for b in range(2)])
    np.testing.assert_allclose(unpool(y).numpy(), ref, atol=1e-12)
    torch.testing.assert_close(unpool(torch.ones(1, 32, 1)), torch.ones(1, 128, 1))
    # a bare grid size means sphere_graphs.equiangular(nlat, nlon), poles=0
    torch.testing.assert_close(EquiangularUnpool(nlat=8, nlon=16, mode="interpolate")(y), unpool(y))


def test_interpolate_two_levels_is_the_product_of_the_steps(samplings):
    s = samplings.equiangular(8, 16, poles=1)
    c1 = sphere_graphs.coarsen(s)
    c2 = sphere_graphs.coarsen(c1.coarse)
    dense = c1.interpolation.toarray() @ c2.interpolation.toarray()  # (128, 8)
    y = torch.randn(2, 8, 3, dtype=torch.float64)
    ref = np.einsum("fc,bck->bfk", dense, y.numpy())
    out = EquiangularUnpool(s, "interpolate", levels=2)(y)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-12)

"""HEALPix NESTED pooling: healpy equivalence, partial sky, max indices, errors."""

import numpy as np
import pytest
import sphere_graphs
import torch
from sphere_pool import HealpixPool, HealpixUnpool, for_sampling


@pytest.mark.parametrize(("nside", "levels"), [(2, 1), (4, 1), (8, 2), (16, 3), (32, 1)])
def test_avg_pool_equals_healpy_ud_grade(samplings, nside, levels):
    hp = pytest.importorskip("healpy")
    rng = np.random.default_rng(nside + levels)
    maps = rng.standard_normal((2, 12 * nside**2, 3))
    pool = HealpixPool(samplings.healpix(nside), mode="avg", levels=levels)
    y = pool(torch.from_numpy(maps)).numpy()
    for b in range(2):
        for c in range(3):
            ref = hp.ud_grade(
                maps[b, :, c], nside // 2**levels, order_in="NESTED", order_out="NESTED"
            )
            np.testing.assert_allclose(y[b, :, c], ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("levels", [1, 2])
def test_avg_then_nearest_is_identity_on_piecewise_constant(samplings, levels):
    s = samplings.healpix(8)
    pool, unpool = HealpixPool(s, "avg", levels), HealpixUnpool(s, "nearest", levels)
    coarse = torch.randn(3, 12 * (8 // 2**levels) ** 2, 4)
    x = coarse.repeat_interleave(4**levels, dim=1)
    torch.testing.assert_close(pool(x), coarse)
    torch.testing.assert_close(unpool(pool(x)), x)


@pytest.mark.parametrize("levels", [1, 2])
def test_max_unpool_puts_maxima_back(samplings, levels):
    s = samplings.healpix(4)
    pool, unpool = for_sampling(s, "max", levels=levels)
    x = torch.randn(2, 192, 5)
    y, idx = pool(x)
    assert idx.shape == y.shape == (2, 192 // 4**levels, 5) and idx.dtype == torch.int64
    ref = x.view(2, -1, 4**levels, 5).max(dim=2)
    torch.testing.assert_close(y, ref.values)
    out = unpool(y, idx)
    expected = torch.zeros_like(x).scatter(1, idx, torch.gather(x, 1, idx))
    torch.testing.assert_close(out, expected)
    assert int((out != 0).sum()) == y.numel()
    torch.testing.assert_close(torch.gather(out, 1, idx), y)


def test_partial_sky_equals_subset_of_full(samplings):
    nside, levels = 8, 2
    g = 4**levels
    rng = np.random.default_rng(0)
    coarse_pix = np.sort(rng.choice(12 * (nside // 4) ** 2, size=10, replace=False))
    indices = (coarse_pix[:, None] * g + np.arange(g)).ravel()
    x_full = torch.randn(2, 12 * nside**2, 3, dtype=torch.float64)
    x_sub = x_full[:, torch.from_numpy(indices)]
    for mode in ("avg", "max"):
        full = HealpixPool(samplings.healpix(nside), mode, levels)(x_full)
        part_pool = HealpixPool(samplings.healpix(nside, indices), mode, levels)
        part = part_pool(x_sub)
        assert np.array_equal(part_pool.coarse_indices, coarse_pix)
        if mode == "max":
            torch.testing.assert_close(part[0], full[0][:, coarse_pix])
            # indices are positions in the subset, pointing at the same pixels
            assert torch.equal(torch.from_numpy(indices)[part[1]], full[1][:, coarse_pix])
        else:
            torch.testing.assert_close(part, full[:, coarse_pix])
    unpool = HealpixUnpool(nside=nside, indices=indices, levels=levels)
    y = torch.randn(1, 10, 2, dtype=torch.float64)
    torch.testing.assert_close(unpool(y), y.repeat_interleave(g, dim=1))


def test_incomplete_subset_error_mentions_closure(samplings):
    indices = np.array([0, 1, 2, 3, 4, 5, 9])
    with pytest.raises(ValueError, match="healpix_closure") as err:
        HealpixPool(samplings.healpix(4, indices), "max")
    assert "2 coarse pixel" in str(err.value)
    # the same rule and wording as sphere_graphs.coarsen
    with pytest.raises(ValueError) as ref:
        sphere_graphs.coarsen(samplings.healpix(4, indices))
    assert str(err.value) == str(ref.value)
    with pytest.raises(ValueError, match="healpix_closure"):
        for_sampling(samplings.healpix(8, np.arange(8)), "avg", levels=2)


def test_ring_and_bad_nside_errors(samplings):
    with pytest.raises(ValueError, match="NESTED"):
        for_sampling(samplings.healpix(4, nest=False), "max")
    with pytest.raises(ValueError, match="NESTED"):
        HealpixUnpool(samplings.healpix(4, nest=False))
    with pytest.raises(ValueError, match="power of two"):
        HealpixPool(nside=6)
    with pytest.raises(ValueError, match=r"levels=2 is too many.*nside=1 cannot be coarsened"):
        HealpixPool(nside=2, levels=2)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="levels must be an integer >= 1"):
            HealpixPool(nside=4, levels=bad)


def test_wrong_v_names_sampling(samplings):
    pool, unpool = for_sampling(samplings.healpix(4), "avg")
    with pytest.raises(ValueError, match=r"V=192.*HealpixSampling\(nside=4.*got V=768"):
        pool(torch.randn(1, 768, 2))
    with pytest.raises(ValueError, match="V=48"):
        unpool(torch.randn(1, 192, 2))


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_gradcheck(samplings, mode):
    pool, unpool = for_sampling(samplings.healpix(2, np.arange(8, 16)), mode)
    x = torch.randn(1, 8, 2, dtype=torch.float64, requires_grad=True)
    if mode == "max":
        y, idx = pool(x.detach())
        assert torch.autograd.gradcheck(lambda t: pool(t)[0], (x,))
        assert torch.autograd.gradcheck(lambda t: unpool(t, idx), (y.clone().requires_grad_(),))
    else:
        assert torch.autograd.gradcheck(pool, (x,))
        assert torch.autograd.gradcheck(
            unpool, (torch.randn(1, 2, 2, dtype=torch.float64, requires_grad=True),)
        )


def test_generic_pool_from_sphere_graphs_coarsen(samplings):
    import sphere_graphs
    from sphere_pool import Pool, Unpool

    for s in (samplings.healpix(8), samplings.healpix(8, np.arange(64, 128))):
        c = sphere_graphs.coarsen(s)
        x = torch.randn(2, s.n_vertices, 3)
        torch.testing.assert_close(Pool(c, "avg")(x), HealpixPool(s, "avg")(x))
        y, idx = Pool(c, "max")(x)
        y2, idx2 = HealpixPool(s, "max")(x)
        torch.testing.assert_close(y, y2)
        assert torch.equal(idx, idx2)
        torch.testing.assert_close(Unpool(c)(y), HealpixUnpool(s)(y))
        assert Pool(c, "avg").coarse.n_vertices == y.shape[1]


@pytest.mark.parametrize("levels", [1, 2])
def test_subset_extended_with_healpix_closure_pools(samplings, levels):
    rng = np.random.default_rng(levels)
    indices = np.unique(rng.choice(768, size=40, replace=False))
    with pytest.raises(ValueError, match="healpix_closure"):
        HealpixPool(samplings.healpix(8, indices), "avg", levels)
    closed = sphere_graphs.healpix_closure(8, indices, levels=levels)
    pool, unpool = for_sampling(samplings.healpix(8, closed), "avg", levels=levels)
    assert np.array_equal(pool.coarse_indices, np.unique(closed // 4**levels))
    x_full = torch.randn(1, 768, 2, dtype=torch.float64)
    full = HealpixPool(samplings.healpix(8), "avg", levels)(x_full)
    y = pool(x_full[:, torch.from_numpy(np.asarray(closed))])
    torch.testing.assert_close(y, full[:, torch.from_numpy(pool.coarse_indices)])
    assert unpool(y).shape == (1, len(closed), 2)
    assert np.array_equal(pool.coarse.pixels, pool.coarse_indices)

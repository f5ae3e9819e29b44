"""The for_sampling contract used by sphere-unet."""

import numpy as np
import pytest
import sphere_pool
import torch
from sphere_pool import for_sampling


def _cases(s):
    return [
        (s.healpix(4), 192, 48),
        (s.healpix(8, np.arange(64, 128)), 64, 16),
        (s.icosahedral(2), 162, 42),
        (s.equiangular(8, 16), 128, 32),
    ]


@pytest.mark.parametrize("case", range(4))
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_contract(samplings, case, mode):
    sampling, v_fine, v_coarse = _cases(samplings)[case]
    pool, unpool = for_sampling(sampling, mode=mode)
    assert isinstance(pool, torch.nn.Module) and isinstance(unpool, torch.nn.Module)
    assert pool.fine is sampling and pool.n_fine == v_fine and pool.n_coarse == v_coarse
    x = torch.randn(2, v_fine, 5)
    if mode == "max":
        y, idx = pool(x)
        assert y.shape == idx.shape == (2, v_coarse, 5)
        x_hat = unpool(y, idx)
    else:
        y = pool(x)
        assert y.shape == (2, v_coarse, 5)
        x_hat = unpool(y)
    assert x_hat.shape == x.shape
    assert pool.state_dict() == {} and unpool.state_dict() == {}
    assert len(list(pool.buffers())) > 0 and len(list(pool.parameters())) == 0
    with pytest.raises(ValueError, match=f"V={v_fine}"):
        pool(torch.randn(2, v_fine + 1, 5))


def test_coarse_sampling(samplings):

    s = samplings.icosahedral(2)
    pool, _ = for_sampling(s, "avg")
    assert pool.coarse.n_vertices == 42 and pool.coarse.level == 1
    pool, _ = for_sampling(samplings.healpix(8, np.arange(64, 128)), "max")
    assert pool.coarse.nside == 4 and np.array_equal(pool.coarse.pixels, np.arange(16, 32))
    pool, _ = for_sampling(samplings.healpix(8), "max", levels=2)
    assert pool.coarse.nside == 2 and pool.coarse.n_vertices == 48
    pool, _ = for_sampling(samplings.equiangular(8, 16), "max")
    assert pool.coarse.n_vertices == 32


def test_unpool_mode_override_and_errors(samplings):
    s = samplings.icosahedral(1)
    _, unpool = for_sampling(s, "avg", unpool_mode="deepsphere_ones")
    out = unpool(torch.zeros(1, 12, 1))
    assert torch.all(out[:, 12:] == 1) and torch.all(out[:, :12] == 0)
    with pytest.raises(ValueError, match="mode"):
        for_sampling(s, "median")
    with pytest.raises(TypeError):
        for_sampling("healpix")


def test_all_exports_exist():
    for name in sphere_pool.__all__:
        assert hasattr(sphere_pool, name)


@pytest.mark.parametrize("case", range(4))
def test_modules_pickle_and_deepcopy(samplings, case):
    import copy
    import pickle

    sampling, v_fine, _ = _cases(samplings)[case]
    pool, unpool = for_sampling(sampling, "max")
    pool2 = pickle.loads(pickle.dumps(pool))
    unpool2 = copy.deepcopy(unpool)
    x = torch.randn(1, v_fine, 2)
    y, idx = pool(x)
    y2, idx2 = pool2(x)
    assert torch.equal(y, y2) and torch.equal(idx, idx2)
    assert torch.equal(unpool(y, idx), unpool2(y, idx))


def test_other_samplings_through_sphere_graphs_hierarchy():
    import sphere_graphs

    for s in (sphere_graphs.gauss_legendre(8, 16), sphere_graphs.cubed_sphere(4)):
        pool, unpool = for_sampling(s, "max")
        x = torch.randn(2, s.n_vertices, 3)
        y, idx = pool(x)
        assert y.shape == (2, s.n_vertices // 4, 3) == idx.shape
        assert unpool(y, idx).shape == x.shape
        assert pool.coarse.n_vertices == s.n_vertices // 4
        with pytest.raises(ValueError, match=type(s).__name__):
            pool(torch.randn(2, s.n_vertices - 1, 3))

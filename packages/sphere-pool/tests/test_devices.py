"""Pooling and unpooling on CUDA give the CPU's values and gradients (skipped without a GPU)."""

import pytest
import sphere_graphs as sg
import sphere_pool
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")

SAMPLINGS = {
    "healpix": lambda: sg.healpix(4),
    "healpix_partial": lambda: sg.healpix(4, indices=sg.healpix_closure(4, [0, 17, 90], 1)),
    "icosahedral": lambda: sg.icosahedral(2),
    "equiangular": lambda: sg.equiangular(8, 16),
}
# (pool mode, unpool mode); None: the sampling's default
MODES = [("max", None), ("avg", None), ("avg", "nearest"), ("avg", "interpolate")]


def _on(device, pool, unpool, x, mode):
    """Pool then unpool ``x`` on ``device``: (coarse, fine, grad of x), back on the CPU."""
    pool, unpool = pool.to(device), unpool.to(device)
    xd = x.detach().to(device).requires_grad_()
    if mode == "max":
        y, idx = pool(xd)
        back = unpool(y, idx)
    else:
        y = pool(xd)
        back = unpool(y)
    weights = torch.linspace(-1, 1, back.numel(), dtype=back.dtype, device=device)
    ((back.reshape(-1) * weights).sum() + y.square().sum()).backward()
    return y.detach().cpu(), back.detach().cpu(), xd.grad.cpu()


@pytest.mark.parametrize("name", list(SAMPLINGS))
@pytest.mark.parametrize("mode,unpool_mode", MODES)
def test_batch_major_pooling_on_cuda(name, mode, unpool_mode):
    s = SAMPLINGS[name]()
    if unpool_mode == "interpolate" and s.kind != "icosahedral":
        pytest.skip("interpolating unpooling is the icosahedral one")
    pool, unpool = sphere_pool.for_sampling(s, mode, unpool_mode=unpool_mode)
    x = torch.randn(2, s.n_vertices, 3, dtype=torch.float64)
    for got, want in zip(
        _on("cuda", pool, unpool, x, mode), _on("cpu", pool, unpool, x, mode), strict=True
    ):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", list(SAMPLINGS))
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_vertex_major_pooling_on_cuda(name, mode):
    c = sg.coarsen(SAMPLINGS[name]())
    vp = sphere_pool.VertexPool(c, mode)
    x = torch.randn(c.fine.n_vertices, 2, 3, dtype=torch.float64)
    results = []
    for device in ("cuda", "cpu"):
        m = vp.to(device)
        xd = x.to(device).requires_grad_()
        y, idx = m.pool(xd)
        back = m.unpool(y, idx) if mode == "max" else m.unpool(y)
        (back.square().sum() + y.sum()).backward()
        results.append([t.detach().cpu() for t in (y, back, xd.grad)])
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want)

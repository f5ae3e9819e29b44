"""Every kernel path on every device, against the dense float64 reference.

Values, gradients (autograd) and the pooled inference path (``torch.no_grad``) of
each evaluation order the kernels choose, in both layouts, with several input parts
and with lifts. ``cuda`` runs where torch sees a GPU (skipped otherwise);
``cpu-sparse-blas`` runs the CPU with the sparse BLAS products that other devices use
(instead of the CPU's gather-sum), so that code path is tested on every machine.
"""

import cheb_conv
import numpy as np
import pytest
import torch
from cheb_conv.testing import dense_reference_torch, random_graph

DEVICES = [
    "cpu",
    "cpu-sparse-blas",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available"),
    ),
]

# (K, C_in, C_out) -> the evaluation order the kernel picks for it
ORDERS = {
    "per-vertex": (1, 6, 5),
    "mix-first": (3, 6, 5),  # Horner on the output channels (C_out <= C_in)
    "basis-first": (3, 3, 8),  # widening: products on the input channels
    "stacked-narrow": (4, 16, 2),  # one GEMM with all M_j (2 K C_out <= C_in)
    "clenshaw": (6, 5, 5),  # K > 4: three-term recurrence
}
V, V_COARSE, B = 30, 11, 2
TOL = dict(rtol=1e-9, atol=1e-10)


@pytest.fixture
def device(request, force_sparse_blas):
    name = request.param
    if name == "cpu-sparse-blas":
        force_sparse_blas()
        return torch.device("cpu")
    return torch.device(name)


def _laplacian() -> torch.Tensor:
    return cheb_conv.rescale(cheb_conv.laplacian(random_graph(V, 70, seed=4), "normalized"))


def _leaves(*shapes, device):
    g = torch.Generator().manual_seed(7)
    return [
        torch.randn(*s, generator=g, dtype=torch.float64).to(device).requires_grad_()
        for s in shapes
    ]


def _check_against(fn, ref_fn, leaves):
    """``fn(*leaves)`` (on the device) == ``ref_fn(*cpu leaves)``: values, gradients, no_grad."""
    y = fn(*leaves)
    cpu_leaves = [t.detach().cpu().requires_grad_() for t in leaves]
    ref = ref_fn(*cpu_leaves)
    assert y.device == leaves[0].device
    torch.testing.assert_close(y.detach().cpu(), ref.detach(), **TOL)
    gy = torch.randn(ref.shape, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    grads = torch.autograd.grad(y, leaves, gy.to(y.device))
    ref_grads = torch.autograd.grad(ref, cpu_leaves, gy)
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got.cpu(), want, **TOL)
    with torch.no_grad():  # pooled out= buffers
        torch.testing.assert_close(fn(*leaves).cpu(), ref.detach(), **TOL)


@pytest.mark.parametrize("device", DEVICES, indirect=True)
@pytest.mark.parametrize("order", ORDERS)
def test_batch_major_orders(device, order):
    K, c_in, c_out = ORDERS[order]
    L = _laplacian()
    op = cheb_conv.SparseOperator(L).to(device)
    leaves = _leaves((B, V, c_in), (K, c_in, c_out), (c_out,), device=device)
    _check_against(
        lambda x, w, b: cheb_conv.cheb_conv(x, op, w, b),
        lambda x, w, b: dense_reference_torch(x, L, w, b),
        leaves,
    )


@pytest.mark.parametrize("device", DEVICES, indirect=True)
@pytest.mark.parametrize("K", [3, 6])
def test_vertex_major_parts(device, K):
    """Two input parts convolved as their concatenation, without building it."""
    L = _laplacian()
    op = cheb_conv.SparseOperator(L).to(device)
    leaves = _leaves((V, B, 4), (V, B, 3), (K, 7, 5), (5,), device=device)

    def ref(x1, x2, w, b):
        x = torch.cat([x1, x2], -1).transpose(0, 1)
        return dense_reference_torch(x, L, w, b).transpose(0, 1)

    _check_against(
        lambda x1, x2, w, b: cheb_conv.cheb_conv_vertex_major([x1, x2], op, w, b), ref, leaves
    )


@pytest.mark.parametrize("device", DEVICES, indirect=True)
@pytest.mark.parametrize(
    "form,K", [("callable", 3), ("callable", 6), ("lifted", 3), ("lifted", 4), ("horner", 3)]
)
def test_vertex_major_lift(device, form, K, monkeypatch):
    """A nearest unpooling ``U`` (V_c -> V rows) before the convolution: as a callable,
    as its matrix (one product with the lifted operator) and as Horner with ``U``."""
    import cheb_conv._lifted as lifted_module

    if form == "horner":
        monkeypatch.setattr(lifted_module, "FULL_MAX_ROWS", 0)
    L = _laplacian()
    op = cheb_conv.SparseOperator(L).to(device)
    parent = torch.from_numpy(np.random.default_rng(3).integers(0, V_COARSE, V))
    U = torch.zeros(V, V_COARSE, dtype=torch.float64)
    U[torch.arange(V), parent] = 1.0
    if form == "callable":
        index = parent.to(device)

        def lift(z):
            return z.index_select(0, index)

    else:
        lift = cheb_conv.SparseOperator.from_index(parent, V_COARSE).to(device)
    leaves = _leaves((V_COARSE, B, 6), (K, 6, 5), (5,), device=device)

    def ref(xc, w, b):
        x = torch.einsum("vc,cbk->bvk", U, xc)
        return dense_reference_torch(x, L, w, b).transpose(0, 1)

    _check_against(
        lambda xc, w, b: cheb_conv.cheb_conv_vertex_major(xc, op, w, b, lift=lift), ref, leaves
    )


@pytest.mark.parametrize("device", DEVICES, indirect=True)
def test_layer_with_folded_batch_norm(device):
    """``ChebConv`` moved to the device, and the eval-mode fold of a following batch norm."""
    L = _laplacian()
    conv = cheb_conv.ChebConv(4, 6, K=3, operator=L).double().to(device)
    bn = torch.nn.BatchNorm1d(6).double().to(device)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    bn.eval()
    x = torch.randn(B, V, 4, dtype=torch.float64).to(device)
    with torch.no_grad():
        y = bn(conv(x).transpose(1, 2)).transpose(1, 2)
        w, b = cheb_conv.fold_batch_norm(conv.weight, conv.bias, bn)
        folded = cheb_conv.cheb_conv(x, conv.operator, w, b)
    assert conv.operator.val.device.type == device.type
    torch.testing.assert_close(folded, y, **TOL)
    ref = dense_reference_torch(x.cpu(), L, conv.weight.detach().cpu(), conv.bias.detach().cpu())
    torch.testing.assert_close(conv(x).detach().cpu(), ref, **TOL)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torch_compile_fullgraph_on_cuda():
    """torch.compile(fullgraph=True) with the CUDA sparse products (the CPU is tested in test_layer)."""
    L = _laplacian().float()
    m = cheb_conv.ChebConv(3, 4, K=3, operator=L).cuda()
    x = torch.randn(B, V, 3, device="cuda", requires_grad=True)
    ref = m(x)
    compiled = torch.compile(m, fullgraph=True)
    y = compiled(x)
    torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-4)
    (g,) = torch.autograd.grad(y.sum(), x)
    (g_ref,) = torch.autograd.grad(ref.sum(), x)
    torch.testing.assert_close(g, g_ref, rtol=1e-4, atol=1e-4)

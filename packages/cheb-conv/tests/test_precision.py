"""Mixed precision: autocast (CPU bfloat16 tested; CUDA skipped without a GPU), half inputs."""

import cheb_conv
import pytest
import torch

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")


def _setup(graph, device="cpu"):
    torch.manual_seed(0)
    m = cheb_conv.ChebConv(16, 8, 3, operator=graph.float()).to(device)
    x = torch.randn(4, 40, 16, device=device)
    return m, x


def _rel(a, b):
    a, b = a.detach().float(), b.detach().float()
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize(
    "device,dtype",
    [
        ("cpu", torch.bfloat16),
        pytest.param("cuda", torch.float16, marks=cuda),
        pytest.param("cuda", torch.bfloat16, marks=cuda),
    ],
)
def test_autocast_train_and_inference(graph, device, dtype):
    """Within 2 % (relative L2) of float32 for the output and every gradient."""
    m, x = _setup(graph, device)
    x.requires_grad_()
    y32 = m(x)
    g32 = torch.autograd.grad(y32.square().sum(), [x, m.weight, m.bias])
    with torch.autocast(device, dtype):
        y = m(x)
        g = torch.autograd.grad(y.float().square().sum(), [x, m.weight, m.bias])
    assert y.dtype == dtype
    assert _rel(y, y32) < 2e-2
    for a, b in zip(g, g32, strict=True):
        assert a.dtype == torch.float32 and _rel(a, b) < 3e-2
    with torch.no_grad(), torch.autocast(device, dtype):
        assert _rel(m(x), y32) < 2e-2


@pytest.mark.parametrize("form", ["lifted", "horner"])
def test_matrix_lift_under_cpu_autocast_and_half_inputs(graph, form, monkeypatch):
    """The lifted forms (matrix lift) in bfloat16 autocast (training and inference) and
    with bfloat16 inputs: within 2 % of float32 (the operator is formed in float32)."""
    import cheb_conv._lifted as lifted_module

    if form == "horner":
        monkeypatch.setattr(lifted_module, "FULL_MAX_ROWS", 0)
    torch.manual_seed(0)
    parent = torch.arange(40) // 4
    lift = cheb_conv.SparseOperator.from_index(parent, 10)
    W = torch.randn(3, 16, 8, requires_grad=True)
    xc = torch.randn(10, 4, 16, requires_grad=True)

    def f(x, w, u=lift):
        return cheb_conv.cheb_conv_vertex_major(x, graph.float(), w, lift=u)

    with torch.autocast("cpu", torch.bfloat16):  # first call: forms the operator under autocast
        y = f(xc, W)
        g = torch.autograd.grad(y.float().square().sum(), [xc, W])
    y32 = f(xc, W, cheb_conv.SparseOperator.from_index(parent, 10))
    g32 = torch.autograd.grad(y32.square().sum(), [xc, W])
    assert y.dtype == torch.bfloat16 and _rel(y, y32) < 2e-2
    for a, b in zip(g, g32, strict=True):
        assert _rel(a, b) < 3e-2
    with torch.no_grad():
        with torch.autocast("cpu", torch.bfloat16):
            assert _rel(f(xc, W), y32) < 2e-2
        yh = f(xc.to(torch.bfloat16), W.to(torch.bfloat16))
        assert yh.dtype == torch.bfloat16 and _rel(yh, y32) < 2e-2


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_without_autocast(graph, dtype):
    """Half modules and inputs work (sparse products accumulate in float32)."""
    m, x = _setup(graph)
    y32 = m(x)
    mh = m.to(dtype)
    y = mh(x.to(dtype))
    assert y.dtype == dtype and _rel(y, y32) < 2e-2
    y.float().sum().backward()
    assert mh.weight.grad.dtype == dtype


def test_wrong_dtypes_name_the_fix(graph):
    m, x = _setup(graph)
    with pytest.raises(TypeError, match="float32 or float64"):
        m(x.to(torch.int32))
    with pytest.raises(TypeError, match=r"float32.*float64.*autocast"):
        m(x.double())


@cuda
def test_cuda_half_without_autocast(graph):
    m, x = _setup(graph, "cuda")
    y = m.half()(x.half())
    assert y.dtype == torch.float16 and torch.isfinite(y).all()

import io

import cheb_conv
import numpy as np
import pytest
import torch
from cheb_conv.testing import dense_reference


def test_layer_with_stored_operator(graph):
    torch.manual_seed(0)
    m = cheb_conv.ChebConv(3, 5, K=3, operator=graph)
    assert isinstance(m.operator, cheb_conv.SparseOperator)
    assert m.operator.val.dtype == torch.float64  # the values keep their precision
    assert "operator" not in m.state_dict()
    assert set(m.state_dict()) == {"weight", "bias"}
    r = repr(m)
    assert "3, 5, K=3" in r and "V=40" in r
    x = torch.randn(2, 40, 3)
    y = m(x)
    assert y.shape == (2, 40, 5)
    ref = dense_reference(x, graph, m.weight, m.bias)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-5, atol=1e-5)
    # strict checkpoint round trip into a fresh layer
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    m2 = cheb_conv.ChebConv(3, 5, K=3, operator=graph)
    m2.load_state_dict(torch.load(buf), strict=True)
    torch.testing.assert_close(m2(x), y)
    # the parameters' dtype moves with the module, the operator keeps its values
    m.double()
    assert m.weight.dtype == torch.float64 and m.operator.val.dtype == torch.float64
    y64 = m(x.double())
    torch.testing.assert_close(y64.float(), y, rtol=1e-5, atol=1e-5)


def test_layer_operator_in_forward(graph):
    m = cheb_conv.ChebConv(3, 2, K=2, bias=False).double()
    assert m.bias is None and "bias=False" in repr(m)
    x = torch.randn(40, 3, dtype=torch.float64)
    y = m(x, graph)
    assert y.shape == (40, 2)
    np.testing.assert_allclose(y.detach().numpy(), dense_reference(x, graph, m.weight), rtol=1e-10)
    with pytest.raises(ValueError, match="no stored operator"):
        m(x)


def test_layer_backward_and_init(graph):
    m = cheb_conv.ChebConv(64, 32, K=4, operator=graph)
    std = m.weight.std().item()
    assert abs(std - (2 / (64 * 4)) ** 0.5) < 0.01
    assert torch.all(m.bias == 0)
    x = torch.randn(2, 40, 64, requires_grad=True)
    m(x).square().mean().backward()
    assert x.grad.shape == x.shape and m.weight.grad.shape == m.weight.shape
    assert torch.isfinite(m.bias.grad).all()


def test_layer_bad_args(graph):
    with pytest.raises(ValueError, match="K must be >= 1"):
        cheb_conv.ChebConv(3, 5, K=0)
    with pytest.raises(ValueError, match="square"):
        cheb_conv.ChebConv(3, 5, K=2, operator=torch.zeros(4, 5).to_sparse_coo())
    with pytest.raises(ValueError, match="in_channels"):
        cheb_conv.ChebConv(0, 5, K=2)


def test_operator_input_not_shared(graph):
    m = cheb_conv.ChebConv(3, 5, K=2, operator=graph.float())
    op = graph.float()
    m2 = cheb_conv.ChebConv(3, 5, K=2, operator=op)
    assert m2.operator is not op
    assert m.operator is not None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_cuda_matches_cpu(graph):
    torch.manual_seed(0)
    m = cheb_conv.ChebConv(3, 4, K=3, operator=graph)
    x = torch.randn(2, 40, 3, requires_grad=True)
    y = m(x)
    y.sum().backward()
    gx = x.grad.clone()
    mc = m.cuda()
    assert mc.operator.crow.is_cuda and mc.operator.val.is_cuda
    xc = x.detach().cuda().requires_grad_()
    yc = mc(xc)
    yc.sum().backward()
    torch.testing.assert_close(yc.cpu(), y, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(xc.grad.cpu(), gx, rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torch_compile_fullgraph(graph):
    """torch.compile(fullgraph=True): the sparse product is an opaque custom op (no graph break)."""
    torch.manual_seed(0)
    m = cheb_conv.ChebConv(3, 4, K=3, operator=graph)
    x = torch.randn(2, 40, 3, requires_grad=True)
    ref = m(x)
    y = torch.compile(m, fullgraph=True)(x)
    torch.testing.assert_close(y, ref)
    y.sum().backward()
    assert x.grad is not None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torch_compile_fullgraph_with_matrix_lift(graph):
    """A matrix lift under torch.compile(fullgraph=True): applied as a sparse product."""
    torch.manual_seed(0)
    op = cheb_conv.SparseOperator(graph)
    lift = cheb_conv.SparseOperator.from_index(torch.arange(40) // 4, 10)
    W = torch.randn(3, 3, 4)

    def f(xc):
        return cheb_conv.cheb_conv_vertex_major(xc, op, W, lift=lift)

    xc = torch.randn(10, 2, 3, requires_grad=True)
    y = torch.compile(f, fullgraph=True)(xc)
    torch.testing.assert_close(y, f(xc))  # eager: the one-product lifted path
    y.sum().backward()
    assert xc.grad is not None

"""No warning on ordinary use (fresh interpreter: torch's one-time warnings are not yet spent)."""

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("scipy")

SCRIPT = textwrap.dedent(
    """
    import warnings
    warnings.simplefilter("error")
    import numpy as np
    import scipy.sparse as sp
    import torch
    import cheb_conv

    rng = np.random.default_rng(0)
    A = sp.random(50, 50, density=0.1, random_state=0)
    A = A + A.T
    A.data.setflags(write=False)
    for adj in (A, A.toarray(), torch.from_numpy(A.toarray())):
        L = cheb_conv.rescale(cheb_conv.laplacian(adj, "normalized"), 2.0)
        m = cheb_conv.ChebConv(3, 4, 3, operator=L)
        x = torch.randn(2, 50, 3, requires_grad=True)
        m(x).sum().backward()
    m2 = cheb_conv.ChebConv(3, 4, 3, operator=A)
    with torch.no_grad():
        m2(torch.randn(2, 50, 3))
    print("quiet")
    """
)


def test_no_warnings_on_ordinary_use():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "quiet"


LEAN = textwrap.dedent(
    """
    import sys
    import torch
    import cheb_conv

    V = 40
    idx = torch.arange(V)
    ei = torch.stack([torch.cat([idx, (idx + 1) % V]), torch.cat([(idx + 1) % V, idx])])
    L = cheb_conv.rescale(cheb_conv.laplacian(cheb_conv.from_edge_index(ei, num_nodes=V)), 4.0)
    op = cheb_conv.SparseOperator(L)
    m = cheb_conv.ChebConv(3, 4, 3, operator=L)
    x = torch.randn(2, V, 3, requires_grad=True)
    (g,) = torch.autograd.grad(m(x).square().sum(), x, create_graph=True)
    g.sum().backward()
    w = torch.randn(3, 5, 4, requires_grad=True)
    parts = [torch.randn(V, 2, 2), torch.randn(V, 2, 3)]
    cheb_conv.cheb_conv_vertex_major(parts, op, w).sum().backward()
    with torch.inference_mode():
        m(torch.randn(2, V, 3))
    print("torch._dynamo" in sys.modules)
    """
)


def test_eager_use_does_not_import_dynamo():
    """Eager calls never go through the custom op (its first call imports torch._dynamo,
    sympy and torch.distributed: about 65 MiB of resident memory, the 0.2.0 inference
    peak-memory regression of sphere-unet)."""
    out = subprocess.run([sys.executable, "-c", LEAN], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"

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

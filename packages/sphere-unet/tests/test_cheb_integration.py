"""sphere-unet on cheb-conv: quiet model building, compile, shared operators, copies."""

import copy
import subprocess
import sys
import textwrap

import sphere_graphs as sg
import sphere_unet as su
import torch

QUIET = textwrap.dedent(
    """
    import warnings
    warnings.simplefilter("error")
    import torch
    import sphere_graphs as sg
    import sphere_unet as su

    m = su.SphericalUNet(sg.icosahedral(3), 4, 3, depth=2, width=4, K=3)
    x = torch.randn(2, m.n_vertices, 4)
    m(x).square().mean().backward()
    m.eval()
    with torch.no_grad():
        m(x)
    su.SphericalUNet(sg.healpix(4), 2, 2, depth=1, width=4, pool="max")(torch.randn(1, 192, 2)).sum().backward()
    print("quiet")
    """
)


def test_model_build_forward_backward_without_warnings():
    out = subprocess.run([sys.executable, "-c", QUIET], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "quiet"


def test_blocks_share_one_operator_per_level_and_copies_work():
    m = su.SphericalUNet(sg.icosahedral(2), 2, 3, depth=1, width=4)
    ops = [mod for mod in m.modules() if type(mod).__name__ == "SparseOperator"]
    laps = list(m.stack.operators)
    lifts = list(m.stack.lifts)  # the decoder's nearest-unpooling matrices
    assert len(ops) == len(laps) + len(lifts)  # one Laplacian per level, shared by its blocks
    assert all(any(o is lap for lap in laps + lifts) for o in ops)
    assert not any("operator" in k for k in m.state_dict())
    x = torch.randn(2, m.n_vertices, 2)
    m.eval()
    y = m(x)
    torch.testing.assert_close(copy.deepcopy(m)(x), y)


def test_chebblock_compiles_fullgraph_without_recompiling():
    """train / eval / no_grad calls of a compiled ChebBlock: few graphs, same values as eager."""
    from cheb_conv import SparseOperator
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()  # graphs compiled by earlier tests in the same process do not count

    s = sg.icosahedral(1)
    lap = sg.graph_hierarchy(s, 0)[0].laplacian
    op = SparseOperator(lap)
    blk = su.ChebBlock((3, 2), 4, 3)
    comp = torch.compile(blk, fullgraph=True)
    x1, x2 = torch.randn(s.n_vertices, 2, 3), torch.randn(s.n_vertices, 2, 2)
    for _ in range(3):
        blk.train()
        torch.testing.assert_close(comp(op, x1, x2), blk(op, x1, x2), rtol=1e-4, atol=1e-5)
        blk.eval()
        with torch.no_grad():
            torch.testing.assert_close(comp(op, x1, x2), blk(op, x1, x2), rtol=1e-4, atol=1e-5)
    y = comp(op, x1.requires_grad_(), x2)
    y.sum().backward()
    assert x1.grad is not None
    assert counters["stats"]["unique_graphs"] <= 4


def test_bfloat16_autocast_inference_of_a_fresh_model():
    """The first call under CPU bfloat16 autocast (the decoder's lifted operators are
    formed then) works and stays within 3 % (relative L2) of float32."""
    torch.manual_seed(0)
    m = su.SphericalUNet(sg.icosahedral(2), 2, 3, depth=2, width=8).eval()
    x = torch.randn(2, m.n_vertices, 2)
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
        y = m(x)
    with torch.no_grad():
        ref = copy.deepcopy(m)(x)
    assert y.dtype == torch.bfloat16
    assert float((y.float() - ref).norm() / ref.norm()) < 3e-2

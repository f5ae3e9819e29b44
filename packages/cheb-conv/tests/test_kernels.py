"""Every kernel (both layouts, power basis / Clenshaw, mix first / basis first, parts,
lift, folding) against the dense references of ``cheb_conv.testing``."""

import cheb_conv
import numpy as np
import pytest
import torch
from cheb_conv.testing import dense_reference, dense_reference_torch, random_graph


def _op(V=30, seed=0, directed=False):
    A = random_graph(V, 3 * V, seed=seed)
    if directed:  # a non-symmetric operator: drop one direction of some edges
        d = A.to_dense()
        d = d * (torch.rand(d.shape, generator=torch.Generator().manual_seed(seed)) > 0.3)
        return cheb_conv.as_operator(d * 0.1 - 0.2 * torch.eye(V, dtype=d.dtype))
    return cheb_conv.rescale(cheb_conv.laplacian(A, "normalized"))


def _vbc(x):  # (B, V, C) <-> (V, B, C)
    return x.transpose(0, 1)


@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 7])
@pytest.mark.parametrize("cin,cout", [(3, 6), (6, 3)])
def test_both_layouts_match_dense_reference(K, cin, cout):
    L = _op()
    x = torch.randn(2, 30, cin, dtype=torch.float64)
    W = torch.randn(K, cin, cout, dtype=torch.float64)
    b = torch.randn(cout, dtype=torch.float64)
    ref = dense_reference(x, L, W, b)
    np.testing.assert_allclose(cheb_conv.cheb_conv(x, L, W, b).numpy(), ref, atol=1e-11)
    y = cheb_conv.cheb_conv_vertex_major(_vbc(x).contiguous(), L, W, b)
    np.testing.assert_allclose(_vbc(y).numpy(), ref, atol=1e-11)
    # implicit concatenation of two parts
    parts = [_vbc(x[..., :2]).contiguous(), _vbc(x[..., 2:]).contiguous()]
    y2 = cheb_conv.cheb_conv_vertex_major(parts, L, W, b)
    np.testing.assert_allclose(_vbc(y2).numpy(), ref, atol=1e-11)


@pytest.mark.parametrize("K", [2, 3, 4])
def test_narrow_output_stacked_mixing(K):
    """C_out <= C_in / (2 K) (a classifier head): one GEMM for all M_j and stacked G_j in
    the backward; values, gradients and second derivatives against the dense reference."""
    L = _op()
    cin, cout = 2 * K * 2, 2
    x = torch.randn(2, 30, cin, dtype=torch.float64, requires_grad=True)
    W = torch.randn(K, cin, cout, dtype=torch.float64, requires_grad=True)
    b = torch.randn(cout, dtype=torch.float64, requires_grad=True)
    ref = dense_reference(x.detach(), L, W.detach(), b.detach())
    for f in (
        lambda x, W, b: cheb_conv.cheb_conv(x, L, W, b),
        lambda x, W, b: _vbc(cheb_conv.cheb_conv_vertex_major(_vbc(x).contiguous(), L, W, b)),
    ):
        np.testing.assert_allclose(f(x, W, b).detach().numpy(), ref, atol=1e-11)
        with torch.no_grad():
            np.testing.assert_allclose(f(x, W, b).numpy(), ref, atol=1e-11)
        assert torch.autograd.gradcheck(f, (x, W, b))
        assert torch.autograd.gradgradcheck(f, (x, W, b))


def _lifts(kind):
    """A lift (coarse 11 -> fine 30 rows) as given to the kernel, and as a dense matrix."""
    parent = torch.from_numpy(np.random.default_rng(3).integers(0, 11, 30))
    if kind == "callable":
        U = torch.zeros(30, 11, dtype=torch.float64)
        U[torch.arange(30), parent] = 1.0
        return (lambda z: z.index_select(0, parent)), U
    if kind == "gather":  # nearest unpooling as a matrix
        op = cheb_conv.SparseOperator.from_index(parent, 11)
        return op, op.to_sparse_csr(torch.float64).to_dense()
    # a general sparse lift (interpolation-like: several weighted coarse rows per fine row)
    g = torch.Generator().manual_seed(5)
    U = torch.rand(30, 11, generator=g, dtype=torch.float64)
    U = U * (torch.rand(30, 11, generator=g) < 0.25)
    return cheb_conv.SparseOperator(U.to_sparse()), U


@pytest.mark.parametrize(
    "kind,form",
    [
        ("callable", None),
        ("gather", "lifted"),
        ("gather", "horner"),
        ("matrix", "lifted"),
        ("matrix", "horner"),
        ("matrix", "horner-blas"),
    ],
)
@pytest.mark.parametrize("K", [1, 3, 4, 6])
def test_lift_mixes_on_coarse_rows(K, kind, form, monkeypatch, force_sparse_blas):
    """``lift`` (a callable, or a matrix for K <= 4: one product with the lifted operator
    [U | L U | ...], or, beyond FULL_MAX_ROWS fine rows, Horner with U, also with the
    sparse BLAS products of other devices) == convolving the lifted input."""
    import cheb_conv._lifted as lifted_module

    if form in ("horner", "horner-blas"):
        monkeypatch.setattr(lifted_module, "FULL_MAX_ROWS", 0)
    if form == "horner-blas":  # the products (and in-place accumulation) CUDA runs
        force_sparse_blas()
    L = _op()
    lift, U = _lifts(kind)
    xc = torch.randn(11, 2, 5, dtype=torch.float64, requires_grad=True)
    W = torch.randn(K, 5, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    y = cheb_conv.cheb_conv_vertex_major(xc, L, W, b, lift=lift)
    if kind != "callable":  # the lifted operator is formed (and cached) for K <= 4 only
        assert any(k[0] == "lifted" for k in lift._cache) == (K <= 4 and form == "lifted")
    lifted = torch.einsum("vc,cbk->vbk", U, xc)
    ref = dense_reference(_vbc(lifted), L, W, b)
    np.testing.assert_allclose(_vbc(y).detach().numpy(), ref, atol=1e-11)
    with torch.no_grad():  # the pooled inference path
        np.testing.assert_allclose(
            _vbc(cheb_conv.cheb_conv_vertex_major(xc, L, W, b, lift=lift)).numpy(), ref, atol=1e-11
        )

    def f(xc, W, b):
        return cheb_conv.cheb_conv_vertex_major(xc, L, W, b, lift=lift)

    assert torch.autograd.gradcheck(f, (xc, W, b))
    if kind != "callable" and K == 3:
        assert torch.autograd.gradgradcheck(f, (xc, W, b))
        # forward mode: f is affine in xc, so its jvp along t is f(t) without the bias
        t = torch.randn_like(xc)
        _, tangent = torch.func.jvp(lambda z: f(z, W.detach(), b.detach()), (xc.detach(),), (t,))
        torch.testing.assert_close(tangent, f(t, W, None).detach())
    with pytest.raises(ValueError, match="exactly one"):
        cheb_conv.cheb_conv_vertex_major(
            [xc, xc], L, torch.zeros(K, 10, 4, dtype=torch.float64), lift=lift
        )


def test_lift_matrix_checks():
    L = _op()
    xc = torch.randn(11, 2, 5, dtype=torch.float64)
    W = torch.randn(3, 5, 4, dtype=torch.float64)
    wrong = cheb_conv.SparseOperator.from_index(torch.zeros(30, dtype=torch.int64), 12)
    with pytest.raises(ValueError, match=r"\(V, V_c\) = \(30, 11\)"):
        cheb_conv.cheb_conv_vertex_major(xc, L, W, lift=wrong)
    with pytest.raises(TypeError, match="lift must be"):
        cheb_conv.cheb_conv_vertex_major(xc, L, W, lift=torch.zeros(30, 11))
    with pytest.raises(ValueError, match="n_cols"):
        cheb_conv.SparseOperator.from_index(torch.tensor([0, 11]), 11)
    with pytest.raises(TypeError, match="integer"):
        cheb_conv.SparseOperator.from_index(torch.tensor([0.0, 1.0]), 11)


def test_power_basis_is_the_chebyshev_polynomial():
    a = torch.linspace(-1, 1, 9, dtype=torch.float64)
    for K in range(1, 8):
        W = torch.randn(K, 1, 1, dtype=torch.float64)
        M = cheb_conv.power_basis(W)
        T = [torch.ones_like(a), a]
        for _ in range(2, K):
            T.append(2 * a * T[-1] - T[-2])
        cheb = sum(W[k, 0, 0] * T[k] for k in range(K))
        if K <= 4:
            power = sum(M[j, 0, 0] * a**j for j in range(K))
            torch.testing.assert_close(power, cheb)
        else:
            assert M is W  # Clenshaw in the Chebyshev basis beyond K = 4


def test_fold_batch_norm_and_affine():
    L = _op()
    bn = torch.nn.BatchNorm1d(4).double().eval()
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
        bn.weight.normal_()
        bn.bias.normal_()
    x = torch.randn(2, 30, 3, dtype=torch.float64)
    W = torch.randn(3, 3, 4, dtype=torch.float64)
    b = torch.randn(4, dtype=torch.float64)
    z = torch.from_numpy(dense_reference(x, L, W, b))
    ref = bn(z.reshape(-1, 4)).view_as(z)
    for bias in (b, None):
        Wf, bf = cheb_conv.fold_batch_norm(W, bias, bn)
        zb = z if bias is not None else torch.from_numpy(dense_reference(x, L, W))
        torch.testing.assert_close(
            cheb_conv.cheb_conv(x, L, Wf, bf), bn(zb.reshape(-1, 4)).view_as(zb)
        )
    torch.testing.assert_close(cheb_conv.cheb_conv(x, L, *cheb_conv.fold_batch_norm(W, b, bn)), ref)
    s, t = torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    torch.testing.assert_close(
        cheb_conv.cheb_conv(x, L, *cheb_conv.fold_affine(W, b, s, t)), z * s + t
    )
    with pytest.raises(ValueError, match="running statistics"):
        cheb_conv.fold_batch_norm(W, b, torch.nn.BatchNorm1d(4, track_running_stats=False))


def test_sparse_apply_rectangular_and_gradcheck():
    A = torch.randn(7, 5, dtype=torch.float64) * (torch.rand(7, 5) > 0.5)
    op = cheb_conv.SparseOperator(A.to_sparse())
    assert not op.symmetric and op.shape == (7, 5)
    x = torch.randn(5, 3, 2, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(
        cheb_conv.sparse_apply(op, x, 0.5), 0.5 * torch.einsum("uv,vbc->ubc", A, x)
    )
    assert torch.autograd.gradcheck(lambda t: cheb_conv.sparse_apply(op, t), (x,))
    assert torch.autograd.gradgradcheck(lambda t: cheb_conv.sparse_apply(op, t).square(), (x,))
    with pytest.raises(ValueError, match="rows"):
        cheb_conv.sparse_apply(op, torch.randn(7, 2))
    with pytest.raises(TypeError, match="SparseOperator"):
        cheb_conv.sparse_apply(A, x)


@pytest.mark.parametrize("K", [3, 6])
@pytest.mark.parametrize("directed", [False, True])
def test_gradcheck_and_gradgradcheck(K, directed):
    """First and second derivatives, float64, both layouts, (non-)symmetric operators."""
    L = _op(V=10, seed=2, directed=directed)
    x = torch.randn(2, 10, 3, dtype=torch.float64, requires_grad=True)
    W = torch.randn(K, 3, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)

    def bm(x, W, b):
        return cheb_conv.cheb_conv(x, L, W, b)

    def vm(x, W, b):
        parts = [_vbc(x[..., :1]), _vbc(x[..., 1:])]
        return cheb_conv.cheb_conv_vertex_major(parts, L, W, b)

    for f in (bm, vm):
        assert torch.autograd.gradcheck(f, (x, W, b))
        assert torch.autograd.gradgradcheck(f, (x, W, b))


def test_double_backward_matches_dense_reference():
    L = _op(V=12, seed=4)
    x = torch.randn(2, 12, 3, dtype=torch.float64, requires_grad=True)
    W = torch.randn(3, 3, 3, dtype=torch.float64, requires_grad=True)
    out = []
    for f in (cheb_conv.cheb_conv, dense_reference_torch):
        y = f(x, L, W)
        (gx,) = torch.autograd.grad(y.pow(3).sum(), x, create_graph=True)
        out.append(torch.autograd.grad(gx.square().sum(), (x, W)))
    for a, r in zip(*out, strict=True):
        assert r.abs().max() > 0
        torch.testing.assert_close(a, r)


def test_functional_jvp_hvp_vhp_match_dense_reference():
    """torch.autograd.functional.* (double-backward based) give the reference's values, not zeros."""
    from torch.autograd.functional import hvp, jvp, vhp

    L = _op(V=12, seed=5)
    W = torch.randn(3, 3, 2, dtype=torch.float64)
    x = torch.randn(2, 12, 3, dtype=torch.float64)
    v = torch.randn_like(x)

    def ours(t):
        return cheb_conv.cheb_conv(t, L, W)

    def ref(t):
        return dense_reference_torch(t, L, W)

    j1, j2 = jvp(ours, x, v)[1], jvp(ref, x, v)[1]
    assert j2.abs().max() > 0
    torch.testing.assert_close(j1, j2)
    for fn in (hvp, vhp):
        h1 = fn(lambda t: ours(t).pow(3).sum(), x, v)[1]
        h2 = fn(lambda t: ref(t).pow(3).sum(), x, v)[1]
        assert h2.abs().max() > 0
        torch.testing.assert_close(h1, h2)


@pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)  # torch.func internals
def test_forward_mode_ad_matches_dense_reference():
    """torch.func.jvp and torch.autograd.forward_ad use the custom jvp (exact)."""
    import torch.autograd.forward_ad as fwAD

    L = _op(V=12, seed=6)
    op = cheb_conv.SparseOperator(L)  # torch.func cannot wrap sparse tensors: convert outside
    L = L.to_dense()
    x = torch.randn(2, 12, 3, dtype=torch.float64)
    W = torch.randn(3, 3, 2, dtype=torch.float64)
    b = torch.randn(2, dtype=torch.float64)
    tx, tW, tb = torch.randn_like(x), torch.randn_like(W), torch.randn_like(b)
    # requires_grad inputs take the fused function (its custom jvp)
    xr, Wr = x.clone().requires_grad_(), W.clone().requires_grad_()
    _, ours = torch.func.jvp(
        lambda a, w, c: cheb_conv.cheb_conv(a, op, w, c), (xr, Wr, b), (tx, tW, tb)
    )
    _, ref = torch.func.jvp(
        lambda a, w, c: dense_reference_torch(a, L, w, c), (x, W, b), (tx, tW, tb)
    )
    torch.testing.assert_close(ours, ref)
    with fwAD.dual_level():
        y = cheb_conv.cheb_conv(fwAD.make_dual(xr, tx), op, Wr, b)
        torch.testing.assert_close(fwAD.unpack_dual(y).tangent, dense_reference_torch(tx, L, W))
    # forward mode without reverse mode (no_grad): the pooled fast paths must step aside,
    # also for the lifted (one sparse product) path
    parent = torch.from_numpy(np.random.default_rng(1).integers(0, 7, L.shape[0]))
    lift = cheb_conv.SparseOperator.from_index(parent, 7)
    xc, tc = torch.randn(7, 2, 3, dtype=torch.float64), torch.randn(7, 2, 3, dtype=torch.float64)
    with torch.no_grad(), fwAD.dual_level():
        y = cheb_conv.cheb_conv(fwAD.make_dual(xr.detach(), tx), op, Wr.detach(), b)
        torch.testing.assert_close(fwAD.unpack_dual(y).tangent, dense_reference_torch(tx, L, W))
        y = cheb_conv.cheb_conv_vertex_major(fwAD.make_dual(xc, tc), op, W, lift=lift)
        tangent = fwAD.unpack_dual(y).tangent
    with torch.no_grad():
        torch.testing.assert_close(tangent, cheb_conv.cheb_conv_vertex_major(tc, op, W, lift=lift))


def test_jacrev_matches_or_refuses():
    """torch.func.jacrev: exact values or a clear error, never zeros."""
    L = _op(V=8, seed=7)
    op = cheb_conv.SparseOperator(L)
    L = L.to_dense()
    W = torch.randn(3, 2, 2, dtype=torch.float64)
    x = torch.randn(1, 8, 2, dtype=torch.float64, requires_grad=True)
    ref = torch.func.jacrev(lambda t: dense_reference_torch(t, L, W))(x.detach())
    try:
        jac = torch.func.jacrev(lambda t: cheb_conv.cheb_conv(t, op, W))(x)
    except RuntimeError as err:
        assert "vmap" in str(err)
    else:
        torch.testing.assert_close(jac, ref)

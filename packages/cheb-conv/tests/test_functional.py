import cheb_conv
import numpy as np
import pytest
import torch
from cheb_conv.testing import dense_reference, random_graph


@pytest.mark.parametrize("dtype,rtol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
def test_matches_dense_reference(dtype, rtol, K, kind):
    A = random_graph(50, 200, seed=K)
    L = cheb_conv.rescale(cheb_conv.laplacian(A, kind)).to(dtype)
    g = torch.Generator().manual_seed(K)
    x = torch.randn(3, 50, 4, generator=g, dtype=dtype)
    w = torch.randn(K, 4, 6, generator=g, dtype=dtype)
    b = torch.randn(6, generator=g, dtype=dtype)
    y = cheb_conv.cheb_conv(x, L, w, b)
    assert y.shape == (3, 50, 6) and y.dtype == dtype
    ref = dense_reference(x, L, w, b)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(y.numpy(), ref, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("K", [1, 2, 3, 4, 5])
def test_gradcheck(graph, K):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 40, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(K, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: cheb_conv.cheb_conv(x, graph, w, b), (x, w, b))


def test_gradcheck_nonsymmetric_operator():
    g = torch.Generator().manual_seed(3)
    dense = torch.randn(12, 12, generator=g, dtype=torch.float64) * (
        torch.rand(12, 12, generator=g) < 0.3
    )
    op = dense.to_sparse_csr()
    x = torch.randn(2, 12, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: cheb_conv.cheb_conv(x, op, w), (x, w))
    ref = dense_reference(x, dense, w)
    np.testing.assert_allclose(
        cheb_conv.cheb_conv(x, op, w).detach().numpy(), ref, rtol=1e-10, atol=1e-10
    )


def test_gradients_match_autograd_reference(graph):
    g = torch.Generator().manual_seed(0)
    L = graph.to(torch.float32)
    x = torch.randn(4, 40, 3, generator=g, requires_grad=True)
    w = torch.randn(3, 3, 5, generator=g, requires_grad=True)
    b = torch.randn(5, generator=g, requires_grad=True)
    y = cheb_conv.cheb_conv(x, L, w, b)
    gy = torch.randn_like(y)
    grads = torch.autograd.grad(y, (x, w, b), gy)
    Ld = L.to_dense()
    T = [x, torch.einsum("uv,bvc->buc", Ld, x)]
    T.append(2 * torch.einsum("uv,bvc->buc", Ld, T[1]) - T[0])
    y2 = sum(t @ w[k] for k, t in enumerate(T)) + b
    grads2 = torch.autograd.grad(y2, (x, w, b), gy)
    for a, r in zip(grads, grads2, strict=False):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-4)


def test_batch_consistency_and_unbatched(graph):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 40, 3, generator=g, dtype=torch.float64)
    w = torch.randn(4, 3, 2, generator=g, dtype=torch.float64)
    b = torch.randn(2, generator=g, dtype=torch.float64)
    y = cheb_conv.cheb_conv(x, graph, w, b)
    for i in range(5):
        yi = cheb_conv.cheb_conv(x[i], graph, w, b)
        assert yi.shape == (40, 2)
        torch.testing.assert_close(yi, y[i], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(cheb_conv.cheb_conv(x[i : i + 1], graph, w, b)[0], y[i])


def test_same_result_for_every_format(graph):
    sp = pytest.importorskip("scipy.sparse")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 40, 3, generator=g, dtype=torch.float64)
    w = torch.randn(3, 3, 2, generator=g, dtype=torch.float64)
    dense = graph.to_dense().numpy()
    ops = [
        graph,
        graph.to_sparse_coo(),
        graph.to_sparse_coo().coalesce(),
        sp.csr_matrix(dense),
        sp.coo_matrix(dense),
        cheb_conv.as_operator(sp.csr_matrix(dense)),
    ]
    ref = cheb_conv.cheb_conv(x, graph, w)
    for op in ops:
        torch.testing.assert_close(cheb_conv.cheb_conv(x, op, w), ref, rtol=1e-12, atol=1e-12)
    # float32 input with a float64 operator: operator converted to x's dtype
    y32 = cheb_conv.cheb_conv(x.float(), graph, w.float())
    torch.testing.assert_close(y32, ref.float(), rtol=1e-5, atol=1e-5)


def test_operator_not_mutated(graph):
    before = graph.to_dense().clone()
    x = torch.randn(2, 40, 3, dtype=torch.float64)
    w = torch.randn(3, 3, 2, dtype=torch.float64)
    cheb_conv.cheb_conv(x, graph, w)
    assert torch.equal(graph.to_dense(), before)


def _call(x_shape=(2, 40, 3), op=None, w_shape=(3, 3, 2), b_shape=None, graph=None):
    x = torch.randn(*x_shape, dtype=torch.float64)
    w = torch.randn(*w_shape, dtype=torch.float64)
    b = None if b_shape is None else torch.randn(*b_shape, dtype=torch.float64)
    return cheb_conv.cheb_conv(x, graph if op is None else op, w, b)


def test_bad_inputs(graph):
    with pytest.raises(ValueError, match="vertex mismatch"):
        _call(x_shape=(2, 39, 3), graph=graph)
    with pytest.raises(ValueError, match="square"):
        _call(op=torch.zeros(40, 30).to_sparse_csr(), graph=graph)
    with pytest.raises(ValueError, match="K"):
        _call(w_shape=(0, 3, 2), graph=graph)
    with pytest.raises(ValueError, match="channel mismatch"):
        _call(x_shape=(2, 40, 4), graph=graph)
    with pytest.raises(ValueError, match="weight must have shape"):
        _call(w_shape=(3, 2), graph=graph)
    with pytest.raises(ValueError, match="x must have shape"):
        _call(x_shape=(1, 2, 40, 3), graph=graph)
    with pytest.raises(ValueError, match="bias"):
        _call(b_shape=(3,), graph=graph)
    with pytest.raises(TypeError, match="operator"):
        _call(op=[[1.0]], graph=graph)
    with pytest.raises(ValueError, match="vertex mismatch"):
        _call(op=torch.eye(7).to_sparse_csr(), graph=graph)


def _grads(L, x, w, b, retain=False):
    y = cheb_conv.cheb_conv(x, L, w, b)
    gy = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)
    return y, torch.autograd.grad(y, (x, w, b), gy, retain_graph=retain)


@pytest.mark.parametrize("K", [3, 6])
def test_buffer_reuse_is_safe(K):
    """Internal work buffers are reused only when nothing refers to them."""
    A = random_graph(3000, 12000, seed=9, dtype=torch.float32)
    L = cheb_conv.rescale(cheb_conv.laplacian(A, "normalized"), lmax=2.0)
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(4, 3000, 32, generator=g, requires_grad=True) for _ in range(2)]
    w = torch.randn(K, 32, 32, generator=g, requires_grad=True)
    b = torch.randn(32, generator=g, requires_grad=True)
    cheb_conv.set_buffer_cache(False)
    try:
        ref = [_grads(L, x, w, b) for x in xs]
    finally:
        cheb_conv.set_buffer_cache(True)
    # two graphs alive at once, backward in reverse order, retain_graph twice
    y0 = cheb_conv.cheb_conv(xs[0], L, w, b)
    y1 = cheb_conv.cheb_conv(xs[1], L, w, b)
    with torch.no_grad():  # inference calls in between must not clobber saved terms
        for _ in range(3):
            cheb_conv.cheb_conv(xs[0], L, w, b)
    for i, y in ((1, y1), (0, y0)):
        gy = torch.linspace(-1, 1, y.numel()).view_as(y)
        for _ in range(2):
            got = torch.autograd.grad(y, (xs[i], w, b), gy, retain_graph=True)
            torch.testing.assert_close(y, ref[i][0])
            for a, r in zip(got, ref[i][1], strict=False):
                torch.testing.assert_close(a, r)
    cheb_conv.empty_cache()


def test_pooled_outputs_are_never_clobbered():
    """Outputs and input gradients come from the buffer pool: anything the
    caller still holds (the tensor, a view, a numpy array, a ``.grad``) keeps its
    buffer out of reuse, and in-place ops on an output are allowed."""
    A = random_graph(3000, 12000, seed=4, dtype=torch.float32)
    L = cheb_conv.rescale(cheb_conv.laplacian(A, "normalized"), lmax=2.0)
    g = torch.Generator().manual_seed(1)
    w = torch.randn(3, 32, 32, generator=g, requires_grad=True)
    xs = [torch.randn(4, 3000, 32, generator=g, requires_grad=True) for _ in range(3)]
    with torch.no_grad():
        held = [cheb_conv.cheb_conv(x, L, w) for x in xs]
    snapshots = [h.clone() for h in held]
    view, arr = held[1][2:], held[2].numpy()
    del held[1:]
    for x in xs:  # backward passes: x.grad slots keep the gradients alive
        y = cheb_conv.cheb_conv(x, L, w)
        y.relu_()  # in-place on an output is legal (not an autograd view)
        y.sum().backward()
    grads = [x.grad.clone() for x in xs]
    with torch.no_grad():
        for _ in range(4):
            for x in xs:
                cheb_conv.cheb_conv(x, L, w)
    torch.testing.assert_close(held[0], snapshots[0], rtol=0, atol=0)
    torch.testing.assert_close(view, snapshots[1][2:], rtol=0, atol=0)
    torch.testing.assert_close(torch.from_numpy(arr), snapshots[2], rtol=0, atol=0)
    for x, gr in zip(xs, grads, strict=True):
        torch.testing.assert_close(x.grad, gr, rtol=0, atol=0)
    cheb_conv.empty_cache()


def test_threads_do_not_share_buffers():
    """Concurrent calls from several threads give the single-threaded results."""
    import threading

    A = random_graph(3000, 12000, seed=5, dtype=torch.float32)
    L = cheb_conv.rescale(cheb_conv.laplacian(A, "normalized"), lmax=2.0)
    g = torch.Generator().manual_seed(2)
    w = torch.randn(3, 32, 32, generator=g)
    xs = [torch.randn(4, 3000, 32, generator=g) for _ in range(4)]
    expected = [cheb_conv.cheb_conv(x, L, w).clone() for x in xs]
    results: dict[int, list[torch.Tensor]] = {i: [] for i in range(4)}

    def work(i):
        for _ in range(10):
            results[i].append(cheb_conv.cheb_conv(xs[i], L, w))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        for y in results[i]:
            torch.testing.assert_close(y, expected[i], rtol=0, atol=0)
    cheb_conv.empty_cache()


def test_pooled_empty_reuses_only_released_buffers():
    like = torch.empty(0)
    cheb_conv.empty_cache()
    a = cheb_conv.pooled_empty((512, 1024), like)  # 2 MiB: pooled
    a.fill_(1.0)
    b = cheb_conv.pooled_empty((512, 1024), like)
    assert a.data_ptr() != b.data_ptr()  # a is alive
    ptr = a.data_ptr()
    view = a[:10]
    del a
    c = cheb_conv.pooled_empty((512, 1024), like)
    assert c.data_ptr() not in (ptr, b.data_ptr())  # a view still holds a's storage
    c_ptr = c.data_ptr()
    del view
    d = cheb_conv.pooled_empty((512, 1024), like)
    assert d.data_ptr() == ptr  # released: a's buffer is handed out again
    # of two free buffers, the one handed out last (most likely still in the CPU caches)
    del d, c  # free: a's buffer (handed out by d) and c's (handed out before d)
    assert cheb_conv.pooled_empty((512, 1024), like).data_ptr() == ptr
    e = cheb_conv.pooled_empty((512, 1024), like)  # a's buffer again (the temporary died)
    f = cheb_conv.pooled_empty((512, 1024), like)  # c's buffer, handed out after e's
    assert (e.data_ptr(), f.data_ptr()) == (ptr, c_ptr)
    del e, f
    assert cheb_conv.pooled_empty((512, 1024), like).data_ptr() == c_ptr  # not first in line
    assert b.data_ptr() not in (ptr, c_ptr)
    small = cheb_conv.pooled_empty((4, 4), like)
    assert small.shape == (4, 4) and small._base is None
    cheb_conv.empty_cache()


def test_pool_matches_buffers_by_size_not_shape():
    """A free buffer serves any shape or dtype of 80-100 % of its bytes, nothing smaller."""
    cheb_conv.empty_cache()
    a = cheb_conv.pooled_empty((512, 1024), torch.empty(0))  # 2 MiB
    ptr = a.data_ptr()
    del a
    b = cheb_conv.pooled_empty((1024, 500), torch.empty(0))  # 1.95 MiB, other shape
    assert b.data_ptr() == ptr and b.shape == (1024, 500) and b.is_contiguous()
    b.fill_(1.0)
    assert b.sum().item() == 1024 * 500
    del b
    c = cheb_conv.pooled_empty((256, 1024), torch.empty(0, dtype=torch.float64))  # 2 MiB
    assert c.data_ptr() == ptr and c.dtype == torch.float64
    del c
    d = cheb_conv.pooled_empty((384, 1024), torch.empty(0))  # 1.5 MiB: too small a request
    assert d.data_ptr() != ptr
    cheb_conv.empty_cache()


def test_pool_respects_its_byte_cap():
    """Past max_bytes, free buffers of other shapes are released; held ones never."""
    from cheb_conv._workspace import _default_max_bytes, _thread_pool

    like = torch.empty(0)
    cheb_conv.empty_cache()
    cheb_conv.set_buffer_cache(True, max_bytes=5 << 20)  # 5 MiB
    try:
        held = cheb_conv.pooled_empty((1024, 1024), like)  # 4 MiB, pooled and held
        assert _thread_pool().nbytes == 4 << 20
        other = cheb_conv.pooled_empty((512, 1024), like)  # 2 MiB: does not fit, not pooled
        assert _thread_pool().nbytes == 4 << 20
        del held
        again = cheb_conv.pooled_empty((512, 1024), like)  # frees the 4 MiB buffer first
        assert _thread_pool().nbytes == 2 << 20
        del other, again
        with pytest.raises(ValueError, match="max_bytes"):
            cheb_conv.set_buffer_cache(True, max_bytes=-1)
    finally:
        cheb_conv.set_buffer_cache(True, max_bytes=_default_max_bytes())
        cheb_conv.empty_cache()


@pytest.mark.parametrize("path", ["gather", "gather-chunked", "sparse-blas"])
@pytest.mark.parametrize("K", [3, 6])  # power basis; Clenshaw (products scaled by 2)
def test_products_match_dense_reference(monkeypatch, force_sparse_blas, path, K):
    """The CPU product is a weighted gather-sum (embedding_bag); large outputs are
    computed in chunks of rows; other devices use the sparse BLAS ``addmm`` (forced
    here on the CPU, so that the CUDA code path is tested without a GPU). All give the
    dense reference, with isolated vertices (empty rows), in both layouts, values and
    gradients."""
    import cheb_conv._sparse as sparse

    if path == "gather-chunked":  # every output is "large": chunks of 3 rows of (B * C) floats
        monkeypatch.setattr(sparse, "_FRESH_BYTES", 1)
        monkeypatch.setattr(sparse, "_CHUNK_BYTES", 3 * 2 * 4 * 8)
    elif path == "sparse-blas":
        force_sparse_blas()
    A = random_graph(30, 40, seed=5)  # sparse enough to leave vertices isolated
    assert (A.to_dense().sum(1) == 0).any()
    L = cheb_conv.rescale(cheb_conv.laplacian(A, "combinatorial"))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 30, 4, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(K, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    y = cheb_conv.cheb_conv(x, L, w)
    np.testing.assert_allclose(y.detach().numpy(), dense_reference(x, L, w), rtol=1e-10, atol=1e-10)
    yv = cheb_conv.cheb_conv_vertex_major(x.transpose(0, 1), L, w).transpose(0, 1)
    np.testing.assert_allclose(yv.detach().numpy(), y.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(lambda x, w: cheb_conv.cheb_conv(x, L, w), (x, w))
    x32, L32 = x.detach().float(), L.float()
    np.testing.assert_allclose(
        cheb_conv.cheb_conv(x32, L32, w.detach().float()).numpy(),
        dense_reference(x, L, w),
        rtol=1e-4,
        atol=1e-4 * np.abs(dense_reference(x, L, w)).max(),
    )


def test_sparse_apply_of_zero_channels():
    op = cheb_conv.SparseOperator(cheb_conv.laplacian(random_graph(10, 20), "normalized"))
    out = cheb_conv.sparse_apply(op, torch.zeros(10, 3, 0, dtype=torch.float64))
    assert out.shape == (10, 3, 0)

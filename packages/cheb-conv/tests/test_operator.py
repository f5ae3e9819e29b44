"""SparseOperator: buffers, sharing without copies, copy/pickle/save, DDP names."""

import copy
import io
import pickle

import cheb_conv
import numpy as np
import torch
from cheb_conv.testing import dense_reference


def _model(graph, n_layers=20, share=True):
    op = cheb_conv.SparseOperator(graph) if share else None
    layers = [cheb_conv.ChebConv(4, 4, 3, operator=op if share else graph) for _ in range(n_layers)]
    return torch.nn.Sequential(*layers)


def _operator_bytes(model):
    """Bytes of the distinct storages behind every operator buffer of the model."""
    seen = {}
    for mod in model.modules():
        if isinstance(mod, cheb_conv.SparseOperator):
            for b in mod.buffers(recurse=False):
                seen[b.untyped_storage().data_ptr()] = b.untyped_storage().nbytes()
    return sum(seen.values())


def test_twenty_layers_share_one_operator(graph):
    one = _operator_bytes(cheb_conv.ChebConv(4, 4, 3, operator=graph))
    shared = _model(graph)
    assert _operator_bytes(shared) == one  # 20 layers, one operator's memory
    assert _operator_bytes(_model(graph, share=False)) == 20 * one  # what copies would cost
    # deepcopy keeps the sharing (one copy of the operator for the whole model)
    clone = copy.deepcopy(shared)
    assert _operator_bytes(clone) == one
    assert clone[0].operator is clone[19].operator and clone[0].operator is not shared[0].operator


def test_buffers_state_dict_and_device_moves(graph):
    m = _model(graph, 3)
    assert set(m.state_dict()) == {f"{i}.{p}" for i in range(3) for p in ("weight", "bias")}
    names = [n for n, _ in m.named_buffers(remove_duplicate=False)]
    assert "0.operator.crow" in names and "0.operator.val" in names
    m.double()
    assert m[0].weight.dtype == torch.float64 and m[0].operator.val.dtype == graph.dtype
    m.float()
    assert m[0].operator.crow.dtype == torch.int32  # indices never follow a dtype move
    assert cheb_conv.ddp_ignore_operators(m) == [
        "0.operator.col",
        "0.operator.crow",
        "0.operator.val",
    ]
    assert "0.operator.crow" in m._ddp_params_and_buffers_to_ignore


def test_deepcopy_pickle_and_torch_save_roundtrip(graph):
    torch.manual_seed(0)
    m = _model(graph, 2)
    x = torch.randn(2, 40, 4)
    y = m(x)
    clones = [copy.deepcopy(m), pickle.loads(pickle.dumps(m))]
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    clones.append(torch.load(buf, weights_only=False))
    for c in clones:
        torch.testing.assert_close(c(x), y)
        c(x).sum().backward()  # trainable after the round trip
    # EMA-style copy of a layer with a private (non-shared) operator
    layer = cheb_conv.ChebConv(4, 3, 3, operator=graph)
    ema = copy.deepcopy(layer)
    torch.testing.assert_close(ema(x), layer(x))


def test_operator_formats(graph):
    dense = graph.to_dense()
    ops = [graph, graph.to_sparse_coo(), dense, dense.numpy()]
    sp = __import__("pytest").importorskip("scipy.sparse")
    ops.append(sp.csr_matrix(dense.numpy()))
    x = torch.randn(2, 40, 3, dtype=torch.float64)
    W = torch.randn(3, 3, 2, dtype=torch.float64)
    ref = dense_reference(x, dense, W)
    for op in ops:
        np.testing.assert_allclose(cheb_conv.cheb_conv(x, op, W).numpy(), ref, atol=1e-12)
        s = cheb_conv.SparseOperator(op)
        assert s.symmetric and s.shape == (40, 40)
        np.testing.assert_allclose(s.to_sparse_csr().to_dense().numpy(), dense.numpy())

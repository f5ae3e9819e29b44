import pytest


@pytest.fixture
def graph():
    import cheb_conv
    from cheb_conv.testing import random_graph

    A = random_graph(40, 120, seed=1)
    return cheb_conv.rescale(cheb_conv.laplacian(A, "normalized"))


@pytest.fixture
def force_sparse_blas(monkeypatch):
    """Call it to make the CPU run the sparse BLAS ``addmm`` products that other devices
    (CUDA) use, instead of its gather-sum: that code path is then tested without a GPU."""
    import cheb_conv._sparse as sparse

    def force():
        monkeypatch.setattr(sparse, "_gathers", lambda x, col: False)

    return force

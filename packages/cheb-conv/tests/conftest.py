import pytest


@pytest.fixture
def graph():
    import cheb_conv
    from cheb_conv.testing import random_graph

    A = random_graph(40, 120, seed=1)
    return cheb_conv.rescale(cheb_conv.laplacian(A, "normalized"))

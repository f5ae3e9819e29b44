"""A Chebyshev convolution on a graph that a symmetry maps onto itself commutes with it.

The symmetry is a vertex permutation: a quarter turn of HEALPix about z relabels the
pixels and maps the tie-inclusive k-NN graph onto itself, so relabelling the input
relabels the output. Checked with the shared helper ``sphere_graphs.testing``
(sphere-graphs is a test-only dependency of cheb-conv), and shown to fail on a graph
that breaks the symmetry.
"""

from __future__ import annotations

import cheb_conv
import numpy as np
import pytest
import sphere_graphs as sg
import torch
from sphere_graphs.testing import assert_equivariant, rotation_z


def _conv_on(adjacency, seed=0):
    L = cheb_conv.rescale(cheb_conv.laplacian(adjacency), 2.0 * np.abs(adjacency).sum(1).max())
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(3, 3, 4, generator=g, dtype=torch.float64)

    def fn(x):
        return cheb_conv.cheb_conv(torch.from_numpy(np.ascontiguousarray(x)), L, weight).numpy()

    return fn


def test_cheb_conv_commutes_with_a_healpix_quarter_turn():
    sampling = sg.healpix(4)
    adjacency = sg.knn_graph(sampling, k=8).adjacency.astype(np.float64)
    assert_equivariant(_conv_on(adjacency), sampling, rotation_z(np.pi / 2), atol=1e-10)


def test_the_check_fails_on_a_graph_that_breaks_the_symmetry():
    sampling = sg.healpix(4)
    adjacency = sg.knn_graph(sampling, k=8).adjacency.astype(np.float64).tolil()
    adjacency[0, 1] = adjacency[1, 0] = 5.0  # one heavy edge that the quarter turn moves
    with pytest.raises(AssertionError):
        assert_equivariant(_conv_on(adjacency.tocsr()), sampling, rotation_z(np.pi / 2), atol=1e-10)

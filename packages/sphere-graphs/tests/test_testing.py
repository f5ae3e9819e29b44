"""sphere_graphs.testing: exact-symmetry equivariance checks, including checks that fail."""

import numpy as np
import pytest
import sphere_graphs as sg
from sphere_graphs.testing import (
    assert_equivariant,
    equivariance_residual,
    random_rotation,
    rotation_z,
    symmetry_permutation,
)

QUARTER = rotation_z(np.pi / 2)
MIRROR = np.diag([1.0, 1.0, -1.0])


def _laplacian_fn(graph):
    lap = graph.laplacian("normalized")
    return lambda x: np.einsum("uv,bvc->buc", lap.toarray(), x)


def test_symmetry_permutation_moves_vertices_as_the_rotation():
    s = sg.healpix(4)
    perm = symmetry_permutation(s, QUARTER)
    np.testing.assert_allclose(s.coords[perm], s.coords @ QUARTER, atol=1e-12)
    assert np.unique(perm).size == s.n_vertices
    with pytest.raises(ValueError, match="onto themselves"):
        symmetry_permutation(s, random_rotation(0))
    with pytest.raises(ValueError, match="orthogonal"):
        symmetry_permutation(s, 2 * np.eye(3))


@pytest.mark.parametrize("rot", [QUARTER, MIRROR])
def test_default_knn_laplacian_is_equivariant(rot):
    s = sg.healpix(8)
    assert_equivariant(_laplacian_fn(sg.knn_graph(s, 8)), s, rot, atol=1e-12)


def test_helper_fails_on_broken_functions():
    s = sg.healpix(8)
    # The index tie-break graph is not mapped onto itself by a quarter turn.
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(_laplacian_fn(sg.knn_graph(s, 8, ties="index")), s, QUARTER)

    # A function that singles out vertex 0.
    def broken(x):
        y = x.copy()
        y[:, 0] *= 2.0
        return y

    with pytest.raises(AssertionError):
        assert_equivariant(broken, s, QUARTER)
    assert equivariance_residual(broken, s, QUARTER) > 0.1


def test_pooling_like_map_with_output_sampling_and_permutations():
    fine, coarse = sg.healpix(8), sg.healpix(4)

    def pool(x):
        return x.reshape(x.shape[0], -1, 4, x.shape[2]).mean(axis=2)

    assert_equivariant(pool, fine, QUARTER, output_sampling=coarse)
    p_in = symmetry_permutation(fine, QUARTER)
    p_out = symmetry_permutation(coarse, QUARTER)
    assert_equivariant(pool, fine, p_in, output_permutation=p_out)
    with pytest.raises(AssertionError):  # wrong output permutation
        assert_equivariant(pool, fine, p_in, output_permutation=np.arange(coarse.n_vertices))
    with pytest.raises(ValueError, match="output_sampling"):
        equivariance_residual(pool, fine, QUARTER)
    with pytest.raises(ValueError, match="permutation"):
        equivariance_residual(pool, fine, np.zeros(fine.n_vertices, dtype=int))

"""Icosahedral sampling: sizes, mesh validity, and the CAM5 reference vertex order."""

from pathlib import Path

import numpy as np
import pytest
from sphere_graphs._icosahedral import icosahedral, icosahedral_n_vertices

# Shipped with the tests (an exact copy of shared/reference/cam5_icosphere_l5.npy; see
# tests/data/README.md), so that the tests run from the sdist alone.
REFERENCE = Path(__file__).resolve().parent / "data" / "cam5_icosphere_l5.npy"


@pytest.mark.parametrize("level", range(6))
def test_matches_cam5_reference(level):
    ref = np.load(REFERENCE)
    s = icosahedral(level)
    n = 10 * 4**level + 2
    assert s.coords.shape == (n, 3)
    np.testing.assert_allclose(s.coords, ref[:n], atol=1e-12, rtol=0)


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_mesh_is_valid(level):
    s = icosahedral(level)
    v, f = s.coords, s.faces
    assert s.kind == "icosahedral" and s.level == level
    assert s.n_vertices == icosahedral_n_vertices(level)
    assert f.shape == (20 * 4**level, 3) and f.dtype == np.int64
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-14)
    # counter-clockwise seen from outside
    normal = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    assert np.all(np.einsum("ij,ij->i", normal, v[f].mean(axis=1)) > 0)
    # closed 2-manifold: every edge shared by exactly two faces, Euler characteristic 2
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    assert np.all(counts == 2)
    assert s.n_vertices - counts.size + f.shape[0] == 2
    deg = np.bincount(np.unique(e, axis=0).ravel())
    assert (deg == 5).sum() == 12 and set(np.unique(deg)) <= {5, 6}


def test_hierarchical_prefix_and_faces():
    fine, coarse = icosahedral(3), icosahedral(2)
    np.testing.assert_allclose(fine.coords[: coarse.n_vertices], coarse.coords, atol=1e-14)
    # face k of level 2 contains faces 4k..4k+3 of level 3; the first three keep a corner
    np.testing.assert_array_equal(fine.faces[0::4, 0], coarse.faces[:, 0])
    np.testing.assert_array_equal(fine.faces[1::4, 1], coarse.faces[:, 1])
    np.testing.assert_array_equal(fine.faces[2::4, 2], coarse.faces[:, 2])


def test_vertex_at_north_pole():
    np.testing.assert_allclose(icosahedral(0).coords[11], [0, 0, 1], atol=1e-15)


def test_level9_builds():
    s = icosahedral(9)
    assert s.n_vertices == 2_621_442 and s.faces.shape == (5_242_880, 3)


@pytest.mark.parametrize(
    "bad, err", [(-1, ValueError), (12, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_bad_level(bad, err):
    with pytest.raises(err):
        icosahedral(bad)

"""Tests of resampling between samplings (nearest and spherical-barycentric linear)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import sphere_graphs as sg
from sphere_graphs._resample import resample, resampling_matrix
from sphere_graphs._sampling import PointSampling, lonlat_to_xyz


def healpix(nside):
    return sg.healpix(nside)


def icosahedral(level):
    return sg.icosahedral(level)


def latlon(h, w):
    """A plain (H, W) lat-lon grid of cell centres, built here from lon/lat."""
    lat = np.pi / 2 - (np.arange(h) + 0.5) * np.pi / h
    lon = np.arange(w) * 2 * np.pi / w
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    return PointSampling(lonlat_to_xyz(lo.ravel(), la.ravel()))


V_DIR = np.array([0.3, -0.5, 0.8])


def _check_stochastic(mat, shape):
    assert sp.isspmatrix_csr(mat) or isinstance(mat, sp.csr_array)
    assert mat.shape == shape
    assert mat.dtype == np.float64
    assert mat.data.min() >= 0
    np.testing.assert_allclose(np.asarray(mat.sum(axis=1)).ravel(), 1.0, atol=1e-12)


@pytest.mark.parametrize("method", ["nearest", "linear"])
def test_rows_sum_to_one_and_constants_exact(method):
    src, tgt = healpix(8), icosahedral(3)
    mat = resampling_matrix(src, tgt, method)
    _check_stochastic(mat, (tgt.n_vertices, src.n_vertices))
    np.testing.assert_allclose(mat @ np.full(src.n_vertices, 3.5), 3.5, rtol=1e-13)


def test_nearest_is_identity_on_itself_and_one_per_row():
    s = healpix(8)
    mat = resampling_matrix(s, s, "nearest")
    assert (mat != sp.eye(s.n_vertices)).nnz == 0
    other = resampling_matrix(s, icosahedral(3), "nearest")
    assert np.all(np.diff(other.indptr) == 1) and np.all(other.data == 1)


def test_nearest_picks_closest_vertex():
    src, tgt = icosahedral(2), healpix(4)
    mat = resampling_matrix(src, tgt, "nearest")
    brute = np.argmin(((tgt.coords[:, None] - src.coords[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(mat.indices, brute)


def test_linear_is_exact_at_source_vertices():
    s = icosahedral(3)
    mat = resampling_matrix(s, s, "linear")
    assert abs(mat - sp.eye(s.n_vertices)).max() < 1e-12
    # Coarse vertices are a subset of the fine icosahedral ones (hierarchical order).
    fine = icosahedral(4)
    up = resampling_matrix(fine, s, "linear")
    x = np.random.default_rng(0).standard_normal(fine.n_vertices)
    np.testing.assert_allclose(up @ x, x[: s.n_vertices], atol=1e-12)


def test_linear_reproduces_linear_functions_with_shrinking_error():
    errors = []
    for nside in (4, 8, 16):
        src, tgt = healpix(nside), latlon(4 * nside, 8 * nside)
        mat = resampling_matrix(src, tgt, "linear")
        assert mat.getnnz(axis=1).max() <= 3
        errors.append(np.abs(mat @ (src.coords @ V_DIR) - tgt.coords @ V_DIR).max())
    assert errors[0] < 0.05
    # Second order: the error drops ~4x per halving of the spacing.
    assert errors[1] < errors[0] / 3 and errors[2] < errors[1] / 3, errors


def test_linear_beats_nearest_on_smooth_signal():
    src, tgt = icosahedral(4), healpix(16)
    f = lambda x: np.sin(3 * x[:, 0]) * x[:, 2]  # noqa: E731
    err = {
        m: np.abs(resampling_matrix(src, tgt, m) @ f(src.coords) - f(tgt.coords)).max()
        for m in ("nearest", "linear")
    }
    assert err["linear"] < err["nearest"] / 3


def test_icosahedral_to_healpix_and_grid_to_icosahedral_shapes():
    ico5, hp16 = icosahedral(5), healpix(16)
    mat = resampling_matrix(ico5, hp16, "linear")
    assert mat.shape == (3072, 10242)
    data = np.random.default_rng(1).standard_normal((2, 4, 10242))
    out = resample(mat, data)
    assert out.shape == (2, 4, 3072)
    np.testing.assert_allclose(out[1, 2], mat @ data[1, 2])

    grid = latlon(32, 64)
    for method in ("nearest", "linear"):
        m2 = resampling_matrix(grid, icosahedral(4), method)
        assert m2.shape == (2562, 32 * 64)
        assert resample(m2, np.ones((3, 32 * 64))).shape == (3, 2562)


def test_grid_samplings_from_grids_module():
    for name, args in (("latlon_grid", (16, 32)), ("equiangular", (16, 32))):
        grid = getattr(sg, name)(*args)
        mat = resampling_matrix(grid, healpix(8), "linear")
        _check_stochastic(mat, (768, 16 * 32))
        err = np.abs(mat @ (grid.coords @ V_DIR) - healpix(8).coords @ V_DIR).max()
        assert err < 0.05


def test_grid_with_repeated_pole_points():
    # Pole rows repeat the pole point: triangulation must cope with duplicates.
    lat = np.linspace(np.pi / 2, -np.pi / 2, 9)
    lon = np.arange(16) * 2 * np.pi / 16
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    grid = PointSampling(lonlat_to_xyz(lo.ravel(), la.ravel()))
    mat = resampling_matrix(grid, healpix(4), "linear")
    _check_stochastic(mat, (192, 9 * 16))
    assert np.abs(mat @ (grid.coords @ V_DIR) - healpix(4).coords @ V_DIR).max() < 0.1


def test_partial_source_falls_back_to_nearest_outside_coverage():
    full = healpix(8)
    cap = PointSampling(full.coords[full.coords[:, 2] > 0.3])
    mat = resampling_matrix(cap, full, "linear")
    _check_stochastic(mat, (full.n_vertices, cap.n_vertices))
    outside = full.coords[:, 2] < 0.0
    nearest = resampling_matrix(cap, full, "nearest")
    assert abs(mat[outside] - nearest[outside]).max() == 0
    ico = icosahedral(3)
    inside = ico.coords[:, 2] > 0.5
    interp = resampling_matrix(cap, ico, "linear")[inside]
    assert np.all(interp.getnnz(axis=1) >= 2)  # interpolated, not copied
    err = np.abs(interp @ (cap.coords @ V_DIR) - ico.coords[inside] @ V_DIR).max()
    assert err < 0.05


def test_resample_keeps_label_dtype_with_nearest():
    src, tgt = healpix(4), icosahedral(2)
    labels = np.random.default_rng(2).integers(0, 3, size=(5, src.n_vertices))
    out = resample(resampling_matrix(src, tgt, "nearest"), labels)
    assert out.dtype == labels.dtype and out.shape == (5, tgt.n_vertices)
    assert resample(resampling_matrix(src, tgt, "linear"), labels).dtype == np.float64


def test_errors():
    s = healpix(4)
    with pytest.raises(ValueError, match="method"):
        resampling_matrix(s, s, "cubic")
    with pytest.raises(ValueError, match=r"\(V, 3\)"):
        resampling_matrix(np.zeros((5, 2)), s)
    with pytest.raises(ValueError, match="at least 4"):
        resampling_matrix(np.eye(3), s, "linear")
    circle = np.stack([np.cos(np.arange(8)), np.sin(np.arange(8)), np.zeros(8)], axis=1)
    with pytest.raises(ValueError, match="great circle"):
        resampling_matrix(circle, s, "linear")
    mat = resampling_matrix(s, icosahedral(1))
    with pytest.raises(ValueError, match=r"\(\.\.\., 192\)"):
        resample(mat, np.zeros((2, 191)))
    with pytest.raises(TypeError, match="sparse"):
        resample(mat.toarray(), np.zeros(192))

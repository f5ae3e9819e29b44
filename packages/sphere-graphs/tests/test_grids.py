"""Equiangular, Gauss-Legendre, cubed-sphere grids and arbitrary points."""

import numpy as np
import pytest
from sphere_graphs._grids import cubed_sphere, equiangular, gauss_legendre, latlon_grid, points


def test_equiangular_cell_centres():
    s = equiangular(4)
    assert (s.nlat, s.nlon, s.poles, s.n_vertices, s.kind) == (4, 8, 0, 32, "equiangular")
    lat = s.lat.reshape(4, 8)
    lon = s.lon.reshape(4, 8)
    np.testing.assert_allclose(lat[:, 0], np.deg2rad([67.5, 22.5, -22.5, -67.5]))
    np.testing.assert_allclose(lon[0], np.arange(8) * 2 * np.pi / 8, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(s.coords, axis=1), 1.0)


@pytest.mark.parametrize(
    "poles, first, last", [(1, 90.0, -45.0), (2, 90.0, -90.0), (True, 90.0, -90.0)]
)
def test_equiangular_poles(poles, first, last):
    nlat = 4 if poles == 1 else 5
    s = equiangular(nlat, 6, poles=poles)
    lat = np.rad2deg(s.lat.reshape(nlat, 6))
    np.testing.assert_allclose(lat[0], first)
    np.testing.assert_allclose(lat[-1], last)
    np.testing.assert_array_equal(s.coords[:6], np.tile([0.0, 0.0, 1.0], (6, 1)))
    assert s.poles == (2 if poles is True else poles)


def test_equiangular_false_is_zero_and_latlon_grid():
    a, b = equiangular(3, 5, poles=False), latlon_grid(3, 5)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert b.poles == 0 and (b.nlat, b.nlon) == (3, 5)
    # an (H, W) image flattened: row 0 north, column j at longitude j*2pi/W
    lat = b.lat.reshape(3, 5)
    assert np.all(np.diff(lat[:, 0]) < 0)


def test_gauss_legendre():
    s = gauss_legendre(6)
    assert (s.nlat, s.nlon, s.n_vertices, s.kind) == (6, 12, 72, "gauss_legendre")
    z = s.coords[::12, 2]
    nodes, _ = np.polynomial.legendre.leggauss(6)
    np.testing.assert_allclose(z, nodes[::-1], atol=1e-14)
    np.testing.assert_allclose(s.lon[:12], np.arange(12) * np.pi / 6, atol=1e-12)


def test_cubed_sphere():
    n = 5
    s = cubed_sphere(n)
    assert s.n_vertices == 6 * n * n and s.n == n and s.kind == "cubed"
    np.testing.assert_allclose(np.linalg.norm(s.coords, axis=1), 1.0)
    assert np.unique(np.round(s.coords, 12), axis=0).shape[0] == 6 * n * n
    face = s.coords.reshape(6, n * n, 3)
    dominant = np.argmax(np.abs(face), axis=2)
    np.testing.assert_array_equal(dominant, np.repeat([0, 1, 0, 1, 2, 2], n * n).reshape(6, -1))
    # centre cell of face 0 sits on +x; equiangular: equal angular steps along the row
    np.testing.assert_allclose(face[0, (n * n) // 2], [1, 0, 0], atol=1e-15)
    row = face[0, 2 * n : 3 * n]
    ang = np.arctan2(row[:, 1], row[:, 0])
    np.testing.assert_allclose(np.diff(ang), np.pi / (2 * n))
    # row 0 of the equatorial faces is at the top (north)
    assert face[0, 0, 2] > 0 > face[0, -1, 2]


def test_points_degrees_and_radians():
    s = points([0, 90, 180], [0, 45, -90], degrees=True)
    np.testing.assert_allclose(
        s.coords, [[1, 0, 0], [0, np.sqrt(0.5), np.sqrt(0.5)], [0, 0, -1]], atol=1e-15
    )
    r = points(np.deg2rad([0, 90, 180]), np.deg2rad([0, 45, -90]))
    np.testing.assert_allclose(r.coords, s.coords, atol=1e-15)
    assert s.kind == "points"


@pytest.mark.parametrize(
    "lon, lat, kwargs",
    [
        ([0, 1], [0], {}),
        ([[0, 1]], [[0, 1]], {}),
        ([], [], {}),
        ([0, np.nan], [0, 0], {}),
        ([0], [100], dict(degrees=True)),
        ([0], [2.0], {}),
        ([10, 370], [0, 0], dict(degrees=True)),
        ([0, 50], [90, 90], dict(degrees=True)),
    ],
)
def test_points_errors(lon, lat, kwargs):
    with pytest.raises(ValueError):
        points(lon, lat, **kwargs)


@pytest.mark.parametrize(
    "call, err",
    [
        (lambda: equiangular(0), ValueError),
        (lambda: equiangular(4, 0), ValueError),
        (lambda: equiangular(4, poles=3), ValueError),
        (lambda: equiangular(1, poles=2), ValueError),
        (lambda: equiangular(2.5), TypeError),
        (lambda: gauss_legendre(0), ValueError),
        (lambda: cubed_sphere(0), ValueError),
        (lambda: latlon_grid(4, -1), ValueError),
    ],
)
def test_bad_sizes(call, err):
    with pytest.raises(err):
        call()

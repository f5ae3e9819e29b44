"""ang2pix / vec2pix / npix2nside against healpy (test dependency)."""

import healpy as hp
import numpy as np
import pytest
import sphere_graphs as sg

NSIDES = [1, 2, 3, 4, 5, 7, 8, 16, 31, 64, 100, 256, 1024, 2**20]


def _points(n, seed):
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, 3))
    # add exact poles, equator and the |z| = 2/3 boundary
    extra = np.array(
        [[0, 0, 1.0], [0, 0, -1.0], [1.0, 0, 0], [0, 1.0, 0], [np.sqrt(5) / 3, 0, 2 / 3]]
    )
    return np.concatenate([v, extra, v * 1e-3])


@pytest.mark.parametrize("nside", NSIDES)
@pytest.mark.parametrize("nest", [True, False])
def test_vec2pix_and_ang2pix_equal_healpy(nside, nest):
    if nest and nside & (nside - 1):
        pytest.skip("NESTED needs a power-of-two nside")
    v = _points(4000, nside)
    np.testing.assert_array_equal(
        sg.vec2pix(nside, *v.T, nest=nest), hp.vec2pix(nside, *v.T, nest=nest)
    )
    theta, phi = hp.vec2ang(v)
    np.testing.assert_array_equal(
        sg.ang2pix(nside, theta, phi, nest=nest), hp.ang2pix(nside, theta, phi, nest=nest)
    )
    lon, lat = np.degrees(phi), 90 - np.degrees(theta)
    np.testing.assert_array_equal(
        sg.ang2pix(nside, lon, lat, nest=nest, lonlat=True),
        hp.ang2pix(nside, lon, lat, nest=nest, lonlat=True),
    )


@pytest.mark.parametrize("nside", [1, 2, 4, 16])
def test_pixel_centres_map_to_themselves(nside):
    for nest in (True, False):
        ipix = np.arange(12 * nside**2)
        v = sg.pix2vec(nside, ipix, nest=nest)
        np.testing.assert_array_equal(sg.vec2pix(nside, *v.T, nest=nest), ipix)


def test_npix2nside():
    for nside in [1, 3, 64, 2**29]:
        assert sg.npix2nside(12 * nside**2) == hp.npix2nside(12 * nside**2)
    for bad in (0, 13, 12 * 4 + 1):
        with pytest.raises(ValueError, match="12 \\* nside"):
            sg.npix2nside(bad)
    with pytest.raises(ValueError, match="non-zero"):
        sg.vec2pix(4, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="theta"):
        sg.ang2pix(4, 4.0, 0.0)

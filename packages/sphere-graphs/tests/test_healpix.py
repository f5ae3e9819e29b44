"""HEALPix geometry and indexing against healpy (test-only dependency)."""

import numpy as np
import pytest
from sphere_graphs._healpix import (
    healpix,
    neighbours,
    nest2ring,
    pix2vec,
    pix2xyf,
    ring2nest,
    xyf2pix,
)

hp = pytest.importorskip("healpy")
RNG = np.random.default_rng(12345)


def _pixels(nside, max_n=200_000):
    npix = 12 * nside**2
    if npix <= max_n:
        return np.arange(npix)
    p = RNG.choice(npix, max_n, replace=False)
    # always include the special pixels: polar caps, ring boundaries, last pixels
    extra = np.r_[
        np.arange(min(npix, 5000)),
        npix - 5000 + np.arange(5000),
        2 * nside * (nside - 1) + np.arange(-8, 8),
    ]
    return np.unique(np.r_[p, extra])


@pytest.mark.parametrize("nside", [1, 2, 3, 4, 5, 7, 8, 16, 64, 1024])
def test_ring_centres_and_neighbours(nside):
    p = _pixels(nside)
    np.testing.assert_allclose(
        pix2vec(nside, p, nest=False), np.array(hp.pix2vec(nside, p)).T, atol=1e-12, rtol=0
    )
    np.testing.assert_array_equal(
        neighbours(nside, p, nest=False), hp.get_all_neighbours(nside, p).T
    )


@pytest.mark.parametrize("nside", [1, 2, 4, 8, 16, 64, 1024, 8192])
def test_nest_against_healpy(nside):
    p = _pixels(nside, 100_000 if nside > 64 else 200_000)
    np.testing.assert_allclose(
        pix2vec(nside, p, nest=True),
        np.array(hp.pix2vec(nside, p, nest=True)).T,
        atol=1e-12,
        rtol=0,
    )
    np.testing.assert_array_equal(ring2nest(nside, p), hp.ring2nest(nside, p))
    np.testing.assert_array_equal(nest2ring(nside, p), hp.nest2ring(nside, p))
    np.testing.assert_array_equal(
        neighbours(nside, p, nest=True), hp.get_all_neighbours(nside, p, nest=True).T
    )
    x, y, f = pix2xyf(nside, p, nest=True)
    hx, hy, hf = hp.pix2xyf(nside, p, nest=True)
    np.testing.assert_array_equal(np.stack([x, y, f]), np.stack([hx, hy, hf]))
    np.testing.assert_array_equal(xyf2pix(nside, x, y, f, nest=True), p)
    np.testing.assert_array_equal(xyf2pix(nside, x, y, f, nest=False), hp.nest2ring(nside, p))


def test_ring_xyf_roundtrip_non_power_of_two():
    nside = 6
    p = np.arange(12 * nside**2)
    x, y, f = pix2xyf(nside, p, nest=False)
    hx, hy, hf = hp.pix2xyf(nside, p, nest=False)
    np.testing.assert_array_equal(np.stack([x, y, f]), np.stack([hx, hy, hf]))
    np.testing.assert_array_equal(xyf2pix(nside, x, y, f, nest=False), p)


def test_chunked_path_matches():
    # more than one processing chunk (2**21 elements)
    nside = 512
    p = np.arange(12 * nside**2)
    sub = RNG.choice(p.size, 20_000, replace=False)
    full = nest2ring(nside, p)
    np.testing.assert_array_equal(full[sub], hp.nest2ring(nside, sub))


def test_scalar_and_shapes():
    assert neighbours(4, 0).shape == (8,)
    assert pix2vec(4, np.arange(6).reshape(2, 3)).shape == (2, 3, 3)
    assert ring2nest(4, 5) == hp.ring2nest(4, 5)


def test_sampling_full_and_subset():
    s = healpix(4)
    assert s.n_vertices == 192 and s.nest and s.indices is None and s.kind == "healpix"
    np.testing.assert_allclose(np.linalg.norm(s.coords, axis=1), 1.0)
    np.testing.assert_allclose(
        s.coords, np.array(hp.pix2vec(4, np.arange(192), nest=True)).T, atol=1e-12
    )
    sub = healpix(4, indices=[10, 3, 7])
    np.testing.assert_array_equal(sub.indices, [3, 7, 10])
    np.testing.assert_array_equal(sub.pixels, [3, 7, 10])
    np.testing.assert_allclose(sub.coords, s.coords[[3, 7, 10]])
    r = healpix(3, nest=False)
    assert r.n_vertices == 108 and not r.nest


@pytest.mark.parametrize(
    "kwargs, err",
    [
        (dict(nside=3), ValueError),
        (dict(nside=0), ValueError),
        (dict(nside=2.0), TypeError),
        (dict(nside=4, indices=[]), ValueError),
        (dict(nside=4, indices=[1, 1]), ValueError),
        (dict(nside=4, indices=[192]), ValueError),
        (dict(nside=4, indices=[-1]), ValueError),
        (dict(nside=4, indices=[[1, 2]]), ValueError),
    ],
)
def test_errors(kwargs, err):
    with pytest.raises(err):
        healpix(**kwargs)


def test_nest_requires_power_of_two_message():
    with pytest.raises(ValueError, match="power of two"):
        ring2nest(3, [0])

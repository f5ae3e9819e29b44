"""Sampling builders for the tests: sphere-graphs' public constructors."""

from __future__ import annotations

import pytest
import sphere_graphs


def make_healpix(nside: int, indices=None, nest: bool = True):
    return sphere_graphs.healpix(nside, nest=nest, indices=indices)


def make_icosahedral(level: int):
    return sphere_graphs.icosahedral(level)


def make_equiangular(nlat: int, nlon: int, poles: int = 0):
    return sphere_graphs.equiangular(nlat, nlon, poles=poles)


@pytest.fixture
def samplings():
    class S:
        healpix = staticmethod(make_healpix)
        icosahedral = staticmethod(make_icosahedral)
        equiangular = staticmethod(make_equiangular)

    return S

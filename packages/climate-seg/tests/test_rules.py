"""The TECA-style detection rules on hand-made fields: each rule accepts its feature and
rejects the look-alike that fails it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from climate_seg.data import (
    CHANNEL_MEAN,
    CHANNELS,
    DetectionRules,
    MeshNeighbourhoods,
    ar_mask,
    ivt,
    label_fields,
    tc_centres,
)
from sphere_graphs import icosahedral

CH = {k: i for i, k in enumerate(CHANNELS)}
R_KM = 6371.0


@pytest.fixture(scope="module")
def mesh():
    xyz = np.asarray(icosahedral(5).coords)
    return xyz, MeshNeighbourhoods(xyz)


def unit(lat_deg, lon_deg):
    la, lo = np.radians(lat_deg), np.radians(lon_deg)
    return np.array([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def calm(n):
    """Uniform fields at the published channel means, light westerly wind."""
    data = np.tile(np.asarray(CHANNEL_MEAN, np.float64)[:, None], (1, n))
    data[[CH["U850"], CH["UBOT"]]] = 3.0
    data[[CH["V850"], CH["VBOT"]]] = 0.0
    data[CH["TMQ"]] = 12.0
    return data


def add_vortex(data, xyz, lat, lon, vmax=35.0, core_k=3.0, rm_deg=1.8, drop_pa=3000.0):
    """A cyclone: pressure low, cyclonic low-level winds, layer temperature anomaly core_k."""
    c = unit(lat, lon)
    r = np.degrees(np.arccos(np.clip(xyz @ c, -1, 1)))
    x = r / rm_deg
    data[CH["PSL"]] -= drop_pa * np.exp(-x / 2)
    for name in ("T500", "T200"):
        data[CH[name]] += core_k * np.exp(-((x / 1.6) ** 2))
    tang = np.cross(c, xyz)
    tang /= np.maximum(np.linalg.norm(tang, axis=1, keepdims=True), 1e-12)
    east = np.stack([-xyz[:, 1], xyz[:, 0], np.zeros(len(xyz))], 1)
    east /= np.maximum(np.linalg.norm(east, axis=1, keepdims=True), 1e-12)
    north = np.cross(xyz, east)
    wind = (np.sign(lat) * vmax * x * np.exp(1 - x))[:, None] * tang
    for u, v in (("UBOT", "VBOT"), ("U850", "V850")):
        data[CH[u]] += (wind * east).sum(1)
        data[CH[v]] += (wind * north).sum(1)
    return r


def add_filament(data, xyz, start, end, half_width_deg, tmq=45.0, wind=14.0):
    """A moist band with a jet along the great-circle arc from ``start`` to ``end`` (lat, lon)."""
    a, b = unit(*start), unit(*end)
    normal = np.cross(a, b)
    normal /= np.linalg.norm(normal)
    off = np.degrees(np.arcsin(np.clip(xyz @ normal, -1, 1)))  # distance to the great circle
    inside = (np.cross(a, xyz) @ normal >= 0) & (np.cross(xyz, b) @ normal >= 0)
    band = inside & (np.abs(off) <= half_width_deg)
    data[CH["TMQ"], band] = tmq
    data[CH["U850"], band] = wind
    return band


def test_warm_core_storm_is_labelled_and_its_core_only(mesh):
    """The mask is the storm's core: within tc_mask of the centre and inside the isobar at
    tc_mask_depth of the closed-contour depth (brute force over all vertices here)."""
    xyz, nbh = mesh
    rules = DetectionRules()
    data = calm(len(xyz))
    r = add_vortex(data, xyz, 15.0, 140.0)
    centres = tc_centres(data, nbh)
    assert len(centres) == 1 and r[centres[0]] < 1.5
    labels = label_fields(data, nbh, 1e9)
    c = centres[0]
    rc = np.degrees(np.arccos(np.clip(xyz @ xyz[c], -1, 1)))
    psl = data[CH["PSL"]].astype(np.float64)
    ring = (rc >= rules.tc_contour_ring[0]) & (rc <= rules.tc_contour_ring[1])
    level = psl[c] + rules.tc_mask_depth * (psl[ring].min() - psl[c])
    expected = (rc <= rules.tc_mask) & (psl <= level)
    np.testing.assert_array_equal(labels == 1, expected)
    assert 3 <= expected.sum() < (rc <= rules.tc_mask).sum()  # a core, not the whole disk
    assert not np.any(labels == 2)


def test_tc_mask_follows_the_storm_between_vertices(mesh):
    """Moving a storm by a fraction of the mesh spacing changes its mask by at most a few
    vertices (a disk about the lowest vertex would jump as a whole)."""
    xyz, nbh = mesh
    masks = []
    for lon in np.linspace(140.0, 142.0, 9):
        data = calm(len(xyz))
        add_vortex(data, xyz, 15.0, lon)
        masks.append(label_fields(data, nbh, 1e9) == 1)
    for a, b in itertools.pairwise(masks):
        assert a.any() and b.any()
        assert (a ^ b).sum() <= max(3, (a | b).sum() // 2)


@pytest.mark.parametrize("hemisphere", [1.0, -1.0])
def test_each_tc_rule_rejects_its_look_alike(mesh, hemisphere):
    xyz, nbh = mesh
    lat = 18.0 * hemisphere
    cases = {
        "cold core (extratropical-like)": dict(core_k=-3.0),
        "weak winds (depression)": dict(vmax=12.0, drop_pa=3000.0),
        "no closed contour (shallow low)": dict(drop_pa=250.0),
    }
    for name, kw in cases.items():
        data = calm(len(xyz))
        add_vortex(data, xyz, lat, 60.0, **kw)
        assert len(tc_centres(data, nbh)) == 0, name
    data = calm(len(xyz))
    add_vortex(data, xyz, 55.0 * hemisphere, 60.0)  # poleward of tc_max_lat
    assert len(tc_centres(data, nbh)) == 0
    data = calm(len(xyz))
    add_vortex(data, xyz, lat, 60.0)
    assert len(tc_centres(data, nbh)) == 1
    assert len(tc_centres(data, nbh, DetectionRules(tc_wind=60.0))) == 0


def test_two_storms_two_centres(mesh):
    xyz, nbh = mesh
    data = calm(len(xyz))
    add_vortex(data, xyz, 15.0, 0.0)
    add_vortex(data, xyz, -20.0, 120.0)
    assert len(tc_centres(data, nbh)) == 2


def test_long_narrow_filament_is_an_atmospheric_river(mesh):
    xyz, nbh = mesh
    data = calm(len(xyz))
    band = add_filament(data, xyz, (28.0, -150.0), (48.0, -120.0), 2.5)  # ~3400 km long
    assert np.all(ivt(data)[band] > 300) and np.all(ivt(data)[~band] < 300)
    mask = ar_mask(data, nbh, 300.0)
    np.testing.assert_array_equal(mask, band)
    labels = label_fields(data, nbh, np.full(len(xyz), 300.0))
    np.testing.assert_array_equal(labels == 2, band)


@pytest.mark.parametrize(
    ("start", "end", "half_width", "why"),
    [
        ((30.0, 0.0), (36.0, 5.0), 2.5, "too short (~800 km)"),
        ((25.0, 0.0), (45.0, 30.0), 9.0, "too wide (~2000 km)"),
        ((-5.0, 0.0), (8.0, 30.0), 2.5, "tropical moisture belt"),
    ],
)
def test_plumes_that_are_not_rivers(mesh, start, end, half_width, why):
    xyz, nbh = mesh
    data = calm(len(xyz))
    band = add_filament(data, xyz, start, end, half_width)
    assert band.sum() > 8, why
    assert not ar_mask(data, nbh, 300.0).any(), why


def test_threshold_per_vertex_and_precedence(mesh):
    xyz, nbh = mesh
    data = calm(len(xyz))
    band = add_filament(data, xyz, (25.0, 100.0), (45.0, 130.0), 2.5)
    high = np.where(xyz[:, 1] > 0, 1e9, 300.0)  # eastern hemisphere: threshold out of reach
    assert band.sum() > 0 and not ar_mask(data, nbh, high).any()
    r = add_vortex(data, xyz, 26.0, 101.0)  # a storm at the river's root: TC wins on the overlap
    labels = label_fields(data, nbh, 300.0)
    assert np.any(labels == 2) and np.all(labels[band & (r < 2.0)] == 1)


def test_bad_input(mesh):
    xyz, nbh = mesh
    with pytest.raises(ValueError, match=r"shape \(16, 10242\)"):
        tc_centres(np.zeros((16, 100)), nbh)
    with pytest.raises(ValueError, match="reach"):
        tc_centres(calm(len(xyz)), nbh, DetectionRules(tc_core_ring=(5.0, 12.0)))
    with pytest.raises(ValueError, match="tc_mask"):
        DetectionRules(tc_mask=0.0)
    with pytest.raises(ValueError, match="tc_mask_depth"):
        DetectionRules(tc_mask_depth=1.5)
    with pytest.raises(ValueError, match="coords"):
        MeshNeighbourhoods(np.zeros((5, 2)))

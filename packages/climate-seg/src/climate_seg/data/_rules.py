"""TECA-style detection rules that label tropical cyclones and atmospheric rivers (private).

The labels of the synthetic data are computed from the synthetic fields by these rules,
which look at neighbourhoods on the sphere, as the labels of the real CAM5 archive were
computed by the TECA toolkit from the model output. A pixel's own 16 values therefore do
not decide its class: the same values occur in look-alikes that fail a rule.

Tropical cyclone (TC), for every vertex ``c`` (all radii are great-circle distances):

1. ``|lat(c)| <= tc_max_lat``;
2. ``PSL(c)`` is the minimum of PSL within ``tc_search`` of ``c``;
3. closed contour: PSL rises by at least ``tc_contour_rise`` in every direction, i.e.
   the minimum of PSL on the ring ``tc_contour_ring`` around ``c`` is at least
   ``PSL(c) + tc_contour_rise``;
4. warm core: the layer-mean temperature ``(T500 + T200) / 2`` averaged within
   ``tc_core`` of ``c`` exceeds its average on the ring ``tc_core_ring`` by at least
   ``tc_warm_core``;
5. the low-level wind speed ``hypot(UBOT, VBOT)`` reaches ``tc_wind`` within ``tc_wind_radius``.

The storm's core is labelled TC: every vertex within ``tc_mask`` of a detected centre
inside the closed isobar at ``tc_mask_depth`` of the closed-contour depth, i.e. with
``PSL <= PSL(c) + tc_mask_depth * (min PSL on the contour ring - PSL(c))``. The mask
follows the pressure field, so it moves smoothly with a storm that sits between vertices
(a fixed disk about the lowest vertex would jump by a whole mesh spacing).

Atmospheric river (AR):

1. integrated vapour transport, approximated from the total column water and the
   850 hPa wind, ``IVT = TMQ * hypot(U850, V850)`` (kg m-1 s-1), exceeds a per-vertex
   threshold (the generator uses the larger of a floor and a high percentile of the
   IVT climatology of the vertex's latitude band);
2. the vertices above threshold are grouped into connected regions of the mesh graph;
3. a region is an AR when it is long, ``length >= ar_min_length`` (the largest
   great-circle distance between two of its vertices), narrow,
   ``area / length <= ar_max_width``, and poleward of the tropics (its area-weighted
   mean ``|lat| >= ar_min_lat``).

TC labels take precedence over AR labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ._format import CHANNELS

__all__ = ["DetectionRules", "MeshNeighbourhoods", "ar_mask", "ivt", "label_fields", "tc_centres"]

EARTH_RADIUS_KM = 6371.0
_DEG = np.pi / 180.0
_CH = {k: i for i, k in enumerate(CHANNELS)}


@dataclass(frozen=True)
class DetectionRules:
    """Thresholds of the TC and AR rules (degrees of great-circle arc, Pa, K, m/s, km).

    The defaults follow the usual TECA criteria, rescaled to the 2-degree CAM5 mesh.
    """

    tc_max_lat: float = 40.0
    tc_search: float = 5.0
    tc_contour_ring: tuple[float, float] = (4.5, 6.5)
    tc_contour_rise: float = 500.0
    tc_core: float = 2.5
    tc_core_ring: tuple[float, float] = (5.0, 8.0)
    tc_warm_core: float = 1.0
    tc_wind_radius: float = 4.0
    tc_wind: float = 17.0
    tc_mask: float = 4.0
    tc_mask_depth: float = 0.75
    ar_min_length: float = 2000.0
    ar_max_width: float = 1000.0
    ar_min_lat: float = 20.0

    def __post_init__(self) -> None:
        for name in (
            "tc_search",
            "tc_core",
            "tc_wind_radius",
            "tc_mask",
            "ar_min_length",
            "ar_max_width",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"DetectionRules.{name} must be positive, got {getattr(self, name)}."
                )
        if not 0 < self.tc_mask_depth <= 1:
            raise ValueError(
                f"DetectionRules.tc_mask_depth must be in (0, 1], got {self.tc_mask_depth}."
            )
        for name in ("tc_contour_ring", "tc_core_ring"):
            lo, hi = getattr(self, name)
            if not 0 <= lo < hi:
                raise ValueError(
                    f"DetectionRules.{name} must be (inner, outer) with 0 <= inner < outer."
                )


class MeshNeighbourhoods:
    """Neighbourhood queries on a spherical mesh, for the detection rules.

    Parameters
    ----------
    coords : ndarray, shape (V, 3)
        Unit vectors of the mesh vertices.

    Attributes
    ----------
    xyz : ndarray, shape (V, 3) float64
    lat_deg : ndarray, shape (V,)
    adjacency : scipy.sparse.csr_matrix, shape (V, V)
        Mesh neighbours (vertices closer than 1.5 times the median nearest-neighbour distance).
    max_edge : float
        Longest adjacency edge (radians).
    pixel_area_km2 : float
        Area per vertex (the sphere divided evenly).
    """

    def __init__(self, coords: NDArray[np.floating], reach: float = 8.0) -> None:
        xyz = np.asarray(coords, dtype=np.float64)
        if xyz.ndim != 2 or xyz.shape[1] != 3 or len(xyz) < 8:
            raise ValueError(f"coords must have shape (V, 3) with V >= 8, got {xyz.shape}.")
        if not 0 < reach < 90:
            raise ValueError(f"reach must be in (0, 90) degrees, got {reach}.")
        xyz = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
        self.xyz = xyz
        self.n_vertices = n = len(xyz)
        self.reach = float(reach)
        self.lat_deg = np.degrees(np.arcsin(np.clip(xyz[:, 2], -1, 1)))
        tree = cKDTree(xyz)
        dist, idx = tree.query(xyz, k=7)
        near = dist[:, 1:] < 1.5 * np.median(dist[:, 1])
        rows = np.repeat(np.arange(n), 6)[near.ravel()]
        cols = idx[:, 1:].ravel()[near.ravel()]
        adj = csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
        self.adjacency = ((adj + adj.T) > 0).astype(np.int8).tocsr()
        self.ring1 = idx  # (V, 7): the vertex and its six nearest (local-minimum pre-filter)
        edges = np.stack(self.adjacency.nonzero(), 1)
        self.edges = edges[edges[:, 0] < edges[:, 1]]  # (E, 2) mesh edges, each once
        self.max_edge = float(2 * np.arcsin(dist[:, 1:][near].max() / 2))
        self.pixel_area_km2 = 4 * np.pi * EARTH_RADIUS_KM**2 / n
        chord = 2 * np.sin(reach * _DEG / 2)
        k = min(n, int(np.ceil(1.3 * n * (1 - np.cos(reach * _DEG)) / 2)) + 8)
        while True:  # enough neighbours that every vertex's table covers the whole reach
            dist, idx = tree.query(xyz, k=k)
            if k == n or dist[:, -1].min() > chord:
                break
            k = min(n, 2 * k)
        #: (V, K) nearest vertices of each vertex (itself first) and their distances in degrees;
        #: every vertex within ``reach`` is in its row (rows may hold farther ones too).
        self.table = idx.astype(np.int64)
        self.table_deg = np.degrees(2 * np.arcsin(np.clip(dist / 2, 0, 1))).astype(np.float32)


def ivt(data: NDArray[np.floating]) -> NDArray[np.float64]:
    """Integrated vapour transport proxy ``TMQ * hypot(U850, V850)``, shape (V,), kg m-1 s-1.

    Parameters
    ----------
    data : ndarray, shape (16, V)
        Raw physical fields in ``CHANNELS`` order.
    """
    return data[_CH["TMQ"]] * np.hypot(data[_CH["U850"]], data[_CH["V850"]])


def _check(data: NDArray, nbh: MeshNeighbourhoods) -> None:
    if data.ndim != 2 or data.shape != (len(CHANNELS), nbh.n_vertices):
        raise ValueError(
            f"data must have shape ({len(CHANNELS)}, {nbh.n_vertices}) (channels TMQ ... ZBOT on "
            f"the mesh of the neighbourhoods), got {data.shape}."
        )


def tc_centres(
    data: NDArray[np.floating], nbh: MeshNeighbourhoods, rules: DetectionRules = DetectionRules()
) -> NDArray[np.int64]:
    """Vertices that pass every TC rule (see the module notes), shape (N,).

    Parameters
    ----------
    data : ndarray, shape (16, V)
        Raw physical fields (Pa, K, m/s) in ``CHANNELS`` order.
    nbh : MeshNeighbourhoods
        Built on the mesh of ``data``.
    rules : DetectionRules
    """
    return _detect_tcs(data, nbh, rules)[0]


def _detect_tcs(
    data: NDArray[np.floating], nbh: MeshNeighbourhoods, rules: DetectionRules
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """:func:`tc_centres` and the closed-contour depth of each (Pa, min PSL on the contour
    ring minus the centre's), both shape (N,)."""
    _check(data, nbh)
    reach = max(
        rules.tc_search, rules.tc_contour_ring[1], rules.tc_core_ring[1], rules.tc_wind_radius
    )
    if reach > nbh.reach:
        raise ValueError(
            f"the rules look {reach} degrees away but the neighbourhoods reach only {nbh.reach}; "
            f"build MeshNeighbourhoods(coords, reach={reach})."
        )
    psl = data[_CH["PSL"]].astype(np.float64)
    tlay = 0.5 * (data[_CH["T500"]].astype(np.float64) + data[_CH["T200"]])
    speed = np.hypot(data[_CH["UBOT"]], data[_CH["VBOT"]])
    cand = np.nonzero(np.abs(nbh.lat_deg) <= rules.tc_max_lat)[0]
    for j in range(1, nbh.ring1.shape[1]):  # local minima among the nearest vertices
        cand = cand[psl[cand] <= psl[nbh.ring1[cand, j]]]
    idx, d = nbh.table[cand], nbh.table_deg[cand]  # (N, K)
    p, pc = psl[idx], psl[cand][:, None]
    keep = ~np.any((d <= rules.tc_search) & (p < pc), axis=1)  # minimum of its search disk
    ring = (d >= rules.tc_contour_ring[0]) & (d <= rules.tc_contour_ring[1])
    ring_min = np.where(ring, p, np.inf).min(1)
    keep &= ring.any(1) & (ring_min >= pc[:, 0] + rules.tc_contour_rise)
    t = tlay[idx]
    core = d <= rules.tc_core
    cring = (d >= rules.tc_core_ring[0]) & (d <= rules.tc_core_ring[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        warm = (t * core).sum(1) / core.sum(1) - (t * cring).sum(1) / cring.sum(1)
    keep &= cring.any(1) & (warm >= rules.tc_warm_core)
    keep &= np.where(d <= rules.tc_wind_radius, speed[idx], 0.0).max(1) >= rules.tc_wind
    return cand[keep], (ring_min - pc[:, 0])[keep]


def ar_mask(
    data: NDArray[np.floating],
    nbh: MeshNeighbourhoods,
    threshold: float | NDArray[np.floating],
    rules: DetectionRules = DetectionRules(),
) -> NDArray[np.bool_]:
    """Vertices of atmospheric rivers (see the module notes), boolean shape (V,).

    Parameters
    ----------
    data : ndarray, shape (16, V)
        Raw physical fields in ``CHANNELS`` order.
    nbh : MeshNeighbourhoods
    threshold : float or ndarray, shape (V,)
        IVT threshold (kg m-1 s-1), one value or one per vertex.
    rules : DetectionRules
    """
    _check(data, nbh)
    above = ivt(data) > threshold
    out = np.zeros(nbh.n_vertices, bool)
    sel = np.nonzero(above)[0]
    if len(sel) == 0:
        return out
    e = nbh.edges[above[nbh.edges[:, 0]] & above[nbh.edges[:, 1]]]
    graph = csr_matrix((np.ones(len(e), np.int8), (e[:, 0], e[:, 1])), shape=(nbh.n_vertices,) * 2)
    _, comp_all = connected_components(graph, directed=False)
    _, comp = np.unique(comp_all[sel], return_inverse=True)
    n_comp = int(comp.max()) + 1
    # a region spanning ar_min_length needs at least this many vertices (edges <= max_edge)
    min_count = rules.ar_min_length / (nbh.max_edge * EARTH_RADIUS_KM) + 1
    counts = np.bincount(comp, minlength=n_comp)
    order = np.argsort(comp, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    for k in np.nonzero(counts >= min_count)[0]:
        members = sel[order[starts[k] : starts[k + 1]]]
        if np.abs(nbh.lat_deg[members]).mean() < rules.ar_min_lat:
            continue
        p = nbh.xyz[members]
        a = p[np.argmin(p @ p[0])]  # farthest from an arbitrary member ...
        b = p[np.argmin(p @ a)]  # ... then farthest from that one: the region's extent
        length = float(np.arccos(np.clip(a @ b, -1, 1))) * EARTH_RADIUS_KM
        width = len(members) * nbh.pixel_area_km2 / max(length, 1e-9)
        if length >= rules.ar_min_length and width <= rules.ar_max_width:
            out[members] = True
    return out


def label_fields(
    data: NDArray[np.floating],
    nbh: MeshNeighbourhoods,
    ivt_threshold: float | NDArray[np.floating],
    rules: DetectionRules = DetectionRules(),
) -> NDArray[np.int64]:
    """Class of every vertex from the rules: 0 background, 1 TC, 2 AR; shape (V,).

    Parameters
    ----------
    data : ndarray, shape (16, V)
        Raw physical fields in ``CHANNELS`` order.
    nbh : MeshNeighbourhoods
    ivt_threshold : float or ndarray, shape (V,)
        See :func:`ar_mask`.
    rules : DetectionRules
    """
    labels = np.where(ar_mask(data, nbh, ivt_threshold, rules), 2, 0).astype(np.int64)
    if rules.tc_mask > nbh.reach:
        raise ValueError(f"tc_mask {rules.tc_mask} exceeds the neighbourhoods' reach {nbh.reach}.")
    c, depth = _detect_tcs(data, nbh, rules)
    idx = nbh.table[c]  # (N, K)
    psl = data[_CH["PSL"]].astype(np.float64)
    p, pc = psl[idx], psl[c][:, None]
    core = (nbh.table_deg[c] <= rules.tc_mask) & (p <= pc + rules.tc_mask_depth * depth[:, None])
    labels[idx[core]] = 1
    return labels

"""Random synoptic features of a synthetic episode: cyclones, moisture plumes (private).

Cyclones and plumes come in kinds. Some become tropical cyclones or atmospheric rivers
once the detection rules (``_rules``) look at the fields; the others are look-alikes
that share their pixel values but fail a rule:

- cyclones: ``TC`` (tropical, small, warm core, mostly of storm strength), ``DEPRESSION``
  (tropical, warm core, winds below storm strength), ``COLD_LOW`` (tropical or
  subtropical, as deep and windy as a TC but larger, with a cold core, like monsoon and
  upper-level lows) and ``EXTRATROPICAL`` (midlatitude, large, cold core, moving east);
- plumes: ``AR`` (long and narrow, subtropics to midlatitudes), ``SHORT`` (as moist and
  windy but too short), ``BROAD`` (long but too wide) and ``BELT`` (a long tropical
  moisture belt, equatorward of the AR latitudes). Plumes of one hemisphere alive at the
  same time are spread in longitude (:func:`_spread_longitude`), as the ridges and troughs
  of the planetary waves space real rivers, so that two seldom merge into one region.

Each kind sits clearly on one side of the rule it fails (a cold core well below the
warm-core threshold, a river far narrower and longer than the limits), so that a label
follows from structure a model can see, not from noise near a threshold.

``Difficulty "easy"`` draws only tropical cyclones and rivers (no look-alikes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ._geometry import DEG

TC, DEPRESSION, COLD_LOW, EXTRATROPICAL = range(4)
AR, SHORT, BROAD, BELT = range(4)

#: Mean number of features alive per frame, per kind (cyclones, then plumes), by difficulty.
#: With the detection rules they give class fractions near the published 0.1 % TC and
#: 2.2 % AR (shared/reference/cam5.json); see the tests for the measured values.
#: Amplitude (K) of large-scale upper-air temperature anomalies, by difficulty.
LARGE_SCALE_T = {"realistic": 5.0, "easy": 0.0}
RATES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "realistic": ((2.3, 0.8, 3.5, 2.5), (7.0, 4.0, 2.0, 1.5)),
    "easy": ((2.3, 0.0, 0.0, 0.0), (7.0, 0.0, 0.0, 0.0)),
}
DIFFICULTIES = tuple(RATES)


@dataclass
class Features:
    """State of a synoptic episode; angles in radians, times in 3-hourly steps.

    Cyclones, each ``(N,)``: ``cy_kind``, ``cy_lat0``, ``cy_lon0`` (position at birth),
    ``cy_birth``, ``cy_life``, ``cy_vmax`` (peak 850 hPa wind, m/s), ``cy_rm`` (radius of
    maximum wind), ``cy_core`` (layer temperature anomaly at the centre at peak, K; > 0 warm
    core), ``cy_moist`` (moisture factor), ``cy_east``, ``cy_north`` (drift, m/s; north
    means poleward). Plumes: ``pl_kind (M,)``, ``pl_pts0 (M, S, 2)`` lat/lon of the axis at
    birth, ``pl_birth``, ``pl_life``, ``pl_width`` (radians), ``pl_tmq`` (kg m-2),
    ``pl_jet`` (m/s), ``pl_east`` (drift, m/s), each (M,). Waves: ``wave_m``, ``wave_a``,
    ``wave_ph`` (K,). Noise: ``noise_a``, ``noise_b`` (16,) bank rows, ``noise_w`` their
    rotation rate; ``noise_ls (2,)`` rows of the large-scale bank and ``ls_amp`` its
    amplitude (K).
    """

    cy_kind: NDArray
    cy_lat0: NDArray
    cy_lon0: NDArray
    cy_birth: NDArray
    cy_life: NDArray
    cy_vmax: NDArray
    cy_rm: NDArray
    cy_core: NDArray
    cy_moist: NDArray
    cy_east: NDArray
    cy_north: NDArray
    pl_kind: NDArray
    pl_pts0: NDArray
    pl_birth: NDArray
    pl_life: NDArray
    pl_width: NDArray
    pl_tmq: NDArray
    pl_jet: NDArray
    pl_east: NDArray
    wave_m: NDArray
    wave_a: NDArray
    wave_ph: NDArray
    noise_a: NDArray
    noise_b: NDArray
    noise_w: float
    noise_ls: NDArray
    ls_amp: float


def _births(
    rng: np.random.Generator, rate: float, life_lo: float, life_hi: float, length: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    lm = (life_lo + life_hi) / 2
    life = rng.uniform(life_lo, life_hi, rng.poisson(rate * (length + lm) / lm))
    birth = rng.uniform(-life, length) if len(life) else np.zeros(0)
    return birth, life


def _cyclones(
    rng: np.random.Generator, rates: Sequence[float], length: int
) -> list[NDArray[np.float32]]:
    cols = []
    for kind, rate in enumerate(rates):
        birth, life = _births(rng, rate, 24, 56, length)
        n = len(birth)
        hemi = rng.choice([-1.0, 1.0], n)

        def u(lo: float, hi: float, n: int = n) -> NDArray[np.float64]:
            return rng.uniform(lo, hi, n)

        if kind == TC:
            lat, vmax, rm, core = u(8, 20), u(24, 55), u(1.3, 2.2), None
            moist, east, north = np.ones(n), -4.5 * np.ones(n), 1.0 * np.ones(n)
        elif kind == DEPRESSION:
            lat, vmax, rm, core = u(6, 24), u(8, 15), u(1.3, 2.4), None
            moist, east, north = np.ones(n), -4.5 * np.ones(n), 1.0 * np.ones(n)
        elif kind == COLD_LOW:
            lat, vmax, rm = u(8, 22), u(24, 55), u(3.5, 5.0)
            core = u(-5.0, -3.0)  # well below the warm-core threshold, whatever the surroundings
            moist, east, north = 0.7 * np.ones(n), u(-5, 2), u(0, 2)
        else:
            lat, vmax, rm = u(30, 60), u(20, 45), u(3.0, 4.5)
            core = -u(2.0, 4.0)
            moist, east, north = u(0.2, 0.4), u(7, 12), u(0, 2)
        if core is None:
            core = 0.13 * vmax  # warm core grows with intensity
        cols.append(
            (
                np.full(n, kind),
                hemi * lat * DEG,
                rng.uniform(-np.pi, np.pi, n),
                birth,
                life,
                vmax,
                rm * DEG,
                core,
                moist,
                east,
                north,
            )
        )
    return [np.concatenate(c).astype(np.float32) for c in zip(*cols, strict=True)]


def _spread_longitude(
    rng: np.random.Generator,
    hemi: float,
    birth: float,
    life: float,
    span: float,
    placed: list[tuple[float, float, float, float, float]],
    n_try: int = 30,
    gap: float = 15.0,
) -> float:
    """Western end (degrees) of a plume spanning ``span`` degrees of longitude: the first of
    ``n_try`` random draws at least ``gap`` degrees from every plume of ``placed`` (hemisphere,
    centre longitude, birth, death, span) alive at the same time in the same hemisphere, else
    the draw farthest from them. Appends the new plume to ``placed``."""
    best, best_gap = 0.0, -np.inf
    for _ in range(n_try):
        lon = float(rng.uniform(-180, 180))
        clearance = np.inf
        for h, centre, b, d, w in placed:
            if h == hemi and b <= birth + life and d >= birth:
                apart = abs((lon + span / 2 - centre + 180) % 360 - 180) - (span + w) / 2
                clearance = min(clearance, apart)
        if clearance > best_gap:
            best, best_gap = lon, clearance
        if clearance > gap:
            break
    placed.append((hemi, best + span / 2, birth, birth + life, span))
    return best


def _plumes(
    rng: np.random.Generator, rates: Sequence[float], length: int
) -> list[NDArray[np.float32]]:
    s = np.linspace(0, 1, 10)
    cols = []
    placed: list[tuple[float, float, float, float, float]] = []
    for kind, rate in enumerate(rates):
        birth, life = _births(rng, rate, 10, 30, length)
        m = len(birth)
        hemi = rng.choice([-1.0, 1.0], m)

        def u(lo: float, hi: float, m: int = m) -> NDArray[np.float64]:
            return rng.uniform(lo, hi, m)

        width, tmq, jet = u(3.0, 3.6), u(35, 45), u(20, 30)
        if kind == AR:
            lat0, dlat, dlon = u(18, 28), u(28, 40), u(15, 35)
        elif kind == SHORT:
            lat0, dlat, dlon = u(25, 58), u(3, 7), u(2, 8)
        elif kind == BROAD:
            lat0, dlat, dlon = u(22, 40), u(14, 24), u(10, 30)
            width = u(10.0, 13.0)
        else:
            lat0, dlat, dlon = u(-4, 12), u(-3, 3), u(30, 60)
            width = u(3.0, 4.5)
        pad = 1.25 * width / np.cos(np.radians(lat0 + dlat / 2))  # half-width in longitude
        lon0 = pad + np.array(
            [
                _spread_longitude(rng, hemi[i], birth[i], life[i], dlon[i] + 2 * pad[i], placed)
                for i in range(m)
            ]
        )
        bend = rng.uniform(-7, 7, m)
        lat = lat0[:, None] + s[None] * dlat[:, None]
        lon = (
            lon0[:, None]
            + s[None] * dlon[:, None]
            + bend[:, None] * np.sin(np.pi * s)[None] / np.cos(lat * DEG)
        )
        pts = np.stack([hemi[:, None] * lat * DEG, lon * DEG], -1)
        east = np.where(kind == BELT, -3.0, 9.0) * np.ones(m)
        cols.append((np.full(m, kind), pts, birth, life, width * DEG, tmq, jet, east))
    return [np.concatenate(c).astype(np.float32) for c in zip(*cols, strict=True)]


def draw_features(
    rng: np.random.Generator,
    length: int,
    n_noise: int,
    difficulty: str = "realistic",
    tc_rate: float | None = None,
    ar_rate: float | None = None,
) -> Features:
    """Random episode of ``length`` 3-hourly steps.

    Parameters
    ----------
    rng : numpy.random.Generator
    length : int
        Steps in the episode.
    n_noise : int
        Rows in the geometry's noise banks.
    difficulty : {"realistic", "easy"}
        Which kinds occur (see :data:`RATES`).
    tc_rate, ar_rate : float, optional
        Override the mean number of ``TC`` cyclones / ``AR`` plumes alive per frame.
    """
    if difficulty not in RATES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}.")
    cy_rates, pl_rates = (list(r) for r in RATES[difficulty])
    if tc_rate is not None:
        cy_rates[TC] = float(tc_rate)
    if ar_rate is not None:
        pl_rates[AR] = float(ar_rate)
    k = 4
    wave_m = rng.integers(3, 8, k).astype(np.float32)
    wave_a = rng.uniform(0.4, 1.0, k).astype(np.float32)
    wave_ph = rng.uniform(0, 2 * np.pi, k).astype(np.float32)
    (
        cy_kind,
        cy_lat0,
        cy_lon0,
        cy_birth,
        cy_life,
        cy_vmax,
        cy_rm,
        cy_core,
        cy_moist,
        cy_east,
        cy_north,
    ) = _cyclones(rng, cy_rates, length)
    pl_kind, pl_pts0, pl_birth, pl_life, pl_width, pl_tmq, pl_jet, pl_east = _plumes(
        rng, pl_rates, length
    )
    return Features(
        cy_kind=cy_kind,
        cy_lat0=cy_lat0,
        cy_lon0=cy_lon0,
        cy_birth=cy_birth,
        cy_life=cy_life,
        cy_vmax=cy_vmax,
        cy_rm=cy_rm,
        cy_core=cy_core,
        cy_moist=cy_moist,
        cy_east=cy_east,
        cy_north=cy_north,
        pl_kind=pl_kind,
        pl_pts0=pl_pts0,
        pl_birth=pl_birth,
        pl_life=pl_life,
        pl_width=pl_width,
        pl_tmq=pl_tmq,
        pl_jet=pl_jet,
        pl_east=pl_east,
        wave_m=wave_m,
        wave_a=wave_a,
        wave_ph=wave_ph,
        noise_a=rng.integers(0, n_noise, 16),
        noise_b=rng.integers(0, n_noise, 16),
        noise_w=float(rng.uniform(0.15, 0.35)),
        noise_ls=rng.integers(0, n_noise, 2),
        ls_amp=LARGE_SCALE_T[difficulty],
    )

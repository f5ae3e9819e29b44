"""Physical model of synthetic CAM5-like frames on a spherical mesh (private).

Fields are built from a zonal climatology, fixed synthetic topography, travelling
planetary waves with geostrophic winds, smooth weather noise, tropical cyclones
(warm-core vortices) and atmospheric rivers (moist filaments with a low-level jet).
Pressure, temperature and geopotential are tied together hypsometrically. All
vertex arrays are float32 of shape (V,) unless noted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ._geometry import DEG, EARTH_R, RD_G, RHO, STEP_S, Geometry, _f32


@dataclass
class Features:
    """State of a synoptic episode; angles in radians, times in 3-hourly steps.

    Waves: ``wave_m (K,)`` zonal wavenumbers, ``wave_a (K,)`` amplitudes, ``wave_ph (K,)``
    phases. TCs: ``tc_lat0, tc_lon0, tc_birth, tc_life, tc_vmax, tc_rm`` each (N,).
    ARs: ``ar_pts0 (M, S, 2)`` lat/lon of curve samples at birth, ``ar_birth, ar_life,
    ar_width, ar_tmq, ar_jet`` each (M,). ``noise_a, noise_b (16,)`` noise bank rows,
    ``noise_w`` their rotation rate.
    """

    wave_m: NDArray
    wave_a: NDArray
    wave_ph: NDArray
    tc_lat0: NDArray
    tc_lon0: NDArray
    tc_birth: NDArray
    tc_life: NDArray
    tc_vmax: NDArray
    tc_rm: NDArray
    ar_pts0: NDArray
    ar_birth: NDArray
    ar_life: NDArray
    ar_width: NDArray
    ar_tmq: NDArray
    ar_jet: NDArray
    noise_a: NDArray
    noise_b: NDArray
    noise_w: float


def draw_features(
    rng: np.random.Generator, length: int, n_noise: int, tc_rate: float, ar_rate: float
) -> Features:
    """Random episode of ``length`` steps; ``tc_rate``/``ar_rate`` = mean features alive per frame."""
    k = 4
    wave_m = rng.integers(3, 8, k).astype(np.float32)
    wave_a = rng.uniform(0.4, 1.0, k).astype(np.float32)
    wave_ph = rng.uniform(0, 2 * np.pi, k).astype(np.float32)

    def births(rate, life_lo, life_hi):
        lm = (life_lo + life_hi) / 2
        life = rng.uniform(life_lo, life_hi, rng.poisson(rate * (length + lm) / lm))
        birth = rng.uniform(-life, length) if len(life) else np.zeros(0)
        return birth.astype(np.float32), life.astype(np.float32)

    tc_birth, tc_life = births(tc_rate, 24, 56)
    n = len(tc_birth)
    hemi = rng.choice([-1.0, 1.0], n)
    tc_lat0 = (hemi * rng.uniform(8, 24, n) * DEG).astype(np.float32)
    tc_lon0 = rng.uniform(-np.pi, np.pi, n).astype(np.float32)
    tc_vmax = rng.uniform(14, 55, n).astype(np.float32)
    tc_rm = (rng.uniform(1.3, 2.2, n) * DEG).astype(np.float32)

    ar_birth, ar_life = births(ar_rate, 10, 30)
    m = len(ar_birth)
    s = np.linspace(0, 1, 20)
    hemi = rng.choice([-1.0, 1.0], m)
    lat0 = rng.uniform(14, 28, m)
    dlat = rng.uniform(20, 34, m)
    lon0 = rng.uniform(-180, 180, m)
    dlon = rng.uniform(15, 45, m)
    bend = rng.uniform(-7, 7, m)
    lat = lat0[:, None] + s[None] * dlat[:, None]
    lon = (
        lon0[:, None]
        + s[None] * dlon[:, None]
        + bend[:, None] * np.sin(np.pi * s)[None] / np.cos(lat * DEG)
    )
    ar_pts0 = np.stack([hemi[:, None] * lat * DEG, lon * DEG], -1).astype(np.float32)
    return Features(
        wave_m,
        wave_a,
        wave_ph,
        tc_lat0,
        tc_lon0,
        tc_birth,
        tc_life,
        tc_vmax,
        tc_rm,
        ar_pts0,
        ar_birth,
        ar_life,
        (rng.uniform(2.2, 3.6, m) * DEG).astype(np.float32),
        rng.uniform(18, 32, m).astype(np.float32),
        rng.uniform(12, 24, m).astype(np.float32),
        rng.integers(0, n_noise, 16),
        rng.integers(0, n_noise, 16),
        float(rng.uniform(0.15, 0.35)),
    )


def _unit(lat, lon):
    cl = np.cos(lat)
    return np.stack([cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)], -1).astype(np.float32)


def _dots(g: Geometry, pts: NDArray) -> NDArray[np.float32]:
    """Dot products of points ``(P, 3)`` with every vertex, shape (P, V) (no BLAS: K=3 is slow there)."""
    x = g.xyz_t
    return pts[:, 0, None] * x[0] + pts[:, 1, None] * x[1] + pts[:, 2, None] * x[2]


def _envelope(t, birth, life):
    return np.clip(np.sin(np.pi * (t - birth) / life), 0, None) * (
        (t >= birth) & (t <= birth + life)
    )


def frame_fields(g: Geometry, f: Features, t: float) -> tuple[dict, dict]:
    """Raw physical fields of one frame at step ``t`` of an episode.

    Returns
    -------
    fields : dict of str -> ndarray (V,) float32
        The 16 CAM5 channels in physical units (before calibration).
    aux : dict
        Environment fields without the features (``psl_env``, ``tmq_env``, ``u_env``,
        ``v_env``), the terrain extrapolation part of PSL (``psl_terrain``, not in PS) and per-feature geometry for labelling, on vertex subsets:
        ``tc_idx (W,)`` vertices near TCs, ``tc_r2 (N, W)`` their squared distance to
        each TC centre, ``tc_rm (N,)``, ``tc_vmax (N,)``; ``ar_pairs`` = (AR index,
        vertex, squared distance to the AR axis, curve position in [0, 1]), each (P,),
        for vertices near ARs; ``ar_width (M,)``, ``ar_len (M,)``.
    """
    lat = g.lat
    # planetary waves (eastward phase speed ~ 10 m/s at 45 deg), midlatitude storm track
    c = np.float32(10.0 * STEP_S / (EARTH_R * np.cos(45 * DEG)))
    m_i = f.wave_m.astype(np.int64)
    shift = (f.wave_ph - f.wave_m * c * t)[:, None]  # phase = m lon + shift
    cos_ph = g.cos_m[m_i] * np.cos(shift) - g.sin_m[m_i] * np.sin(shift)  # (K, V)
    sin_ph = g.sin_m[m_i] * np.cos(shift) + g.cos_m[m_i] * np.sin(shift)
    cl = g.clim
    env = cl["env"]
    a = f.wave_a[:, None]
    q = (a * cos_ph).sum(0)  # explicit sums: tiny-K BLAS calls are erratic under load
    q_lam = -(a * f.wave_m[:, None] * sin_ph).sum(0)
    q_quad = (a * sin_ph).sum(0)
    p_amp = np.float32(2600.0)  # sea-level pressure wave amplitude (Pa)
    # geostrophic winds of the 850 hPa waves (weaker than at sea level: amplitude 1300 Pa)
    scale = np.float32(1300.0 / (RHO * EARTH_R))
    ug = -scale * cl["denv"] * q / cl["fcor"]
    vg = scale * env * q_lam * cl["inv_cos"] / cl["fcor"]
    w = f.noise_w * t
    nz = (
        np.float32(np.cos(w)) * g.noise[f.noise_a] + np.float32(np.sin(w)) * g.noise[f.noise_b]
    )  # (16, V) unit variance
    tanom = 4.0 * env * q_quad

    t_sea = cl["t_sea"] + tanom + 1.2 * nz[0]
    ts = t_sea - 0.0065 * g.topo
    # sea-level reduction over cold high terrain extrapolates to high PSL (as in model output)
    psl_terrain = 1.2 * g.topo * np.clip((290 - ts) / 40, 0, 2)
    psl_env = cl["psl"] + p_amp * env * q + 250 * nz[1] + psl_terrain
    u850 = cl["u"] + ug + 1.5 * nz[2]
    v850 = vg + 1.0 * nz[3]
    rh = np.clip(cl["rh"] + 0.10 * nz[4], 0.2, 1.0)
    tmq_add = np.zeros_like(lat)
    prect_add = np.zeros_like(lat)
    t500_add = np.zeros_like(lat)
    psl = psl_env.copy()

    # tropical cyclones: warm-core vortices drifting west and poleward
    aux: dict = {}
    tc_env = _envelope(t, f.tc_birth, f.tc_life)
    alive = np.nonzero(tc_env > 0.02)[0]
    n_tc = len(alive)
    tc_vm = f.tc_vmax[alive] * tc_env[alive]
    tc_rm = f.tc_rm[alive]
    tc_idx = np.zeros(0, np.int64)
    tc_r2 = np.zeros((n_tc, 0), np.float32)
    if n_tc:
        tt = t - f.tc_birth[alive]
        clat = f.tc_lat0[alive] + np.sign(f.tc_lat0[alive]) * 2.0 * STEP_S / EARTH_R * tt
        clon = f.tc_lon0[alive] - 4.5 * STEP_S / (EARTH_R * np.cos(clat)) * tt
        cen = _unit(clat, clon)  # (N, 3)
        dot = _dots(g, cen)  # (N, V)
        tc_idx = np.nonzero((dot > np.cos(8 * tc_rm)[:, None]).any(0))[0]  # vertices near any TC
        p = g.xyz[tc_idx]
        tc_r2 = np.maximum(2 * (1 - dot[:, tc_idx]), 0)  # (N, W)
        x = np.sqrt(tc_r2) / tc_rm[:, None]
        vt = tc_vm[:, None] * x * np.exp(1 - x)
        tang = np.cross(cen[:, None, :], p[None])  # (N, W, 3): counter-clockwise about the centre
        tang /= np.maximum(np.linalg.norm(tang, axis=2, keepdims=True), 1e-9)
        wind = ((np.sign(clat)[:, None] * vt)[..., None] * tang).sum(0)  # (W, 3)
        u850[tc_idx] += (wind * g.east[tc_idx]).sum(1)
        v850[tc_idx] += (wind * g.north[tc_idx]).sum(1)
        dp = 3.0 * RHO * tc_vm**2  # ~ cyclostrophic: 45 m/s -> 73 hPa
        psl[tc_idx] -= (dp[:, None] * np.exp(-x / 2.0)).sum(0)
        core = np.exp(-((x / 1.6) ** 2))
        frac = (tc_vm / 40.0)[:, None]
        t500_add[tc_idx] += (0.13 * tc_vm[:, None] * core).sum(0)
        tmq_add[tc_idx] += (22 * np.minimum(frac, 1.3) * np.exp(-((x / 2.5) ** 2))).sum(0)
        prect_add[tc_idx] += (1.2e-6 * frac * np.exp(-((x / 1.4) ** 2))).sum(0)

    # atmospheric rivers: moist filaments with a low-level jet along them
    ar_env = _envelope(t, f.ar_birth, f.ar_life)
    alive = np.nonzero(ar_env > 0.02)[0]
    m = len(alive)
    ar_pairs = (
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
        np.zeros(0, np.float32),
        np.zeros(0, np.float32),
    )
    ar_len = np.zeros(m, np.float32)
    u_env, v_env = u850.copy(), v850.copy()
    if m:
        pts = f.ar_pts0[alive].copy()
        tt = (t - f.ar_birth[alive])[:, None]
        pts[..., 1] += 9.0 * STEP_S / (EARTH_R * np.cos(pts[..., 0])) * tt  # eastward drift
        pts[..., 0] += np.sign(pts[..., 0]) * 1.0 * STEP_S / EARTH_R * tt  # slow poleward drift
        xyz = _unit(pts[..., 0], pts[..., 1])  # (M, S, 3)
        n_s = xyz.shape[1]
        seg = np.linalg.norm(np.diff(xyz, axis=1), axis=2)
        ar_len = seg.sum(1).astype(np.float32)
        tangent = np.gradient(xyz, axis=1)
        tangent /= np.linalg.norm(tangent, axis=2, keepdims=True)
        mid = xyz.mean(1)
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        reach = (
            np.arccos(np.clip((xyz * mid[:, None]).sum(2), -1, 1)).max(1) + 2.5 * f.ar_width[alive]
        )
        # (AR, vertex) pairs within each AR's cap; work on pairs only
        pair_k, pair_v = np.nonzero(_dots(g, mid) > np.cos(reach)[:, None])
        dot = np.einsum("psc,pc->ps", xyz[pair_k], g.xyz[pair_v])  # (P, S)
        j = dot.argmax(1)
        rows = np.arange(len(j))
        r2 = np.maximum(2 * (1 - dot[rows, j]), 0)
        s = (j / (n_s - 1)).astype(np.float32)
        amp = ar_env[alive][pair_k] * np.sqrt(np.sin(np.pi * np.clip(s, 0.03, 0.97)))
        wdt = f.ar_width[alive][pair_k] ** 2
        jet = amp * np.exp(-r2 / (1.6 * wdt)) * f.ar_jet[alive][pair_k]
        tvec = jet[:, None] * tangent[pair_k, j]  # (P, 3)
        nv = g.n_vertices
        u850 += np.bincount(pair_v, (tvec * g.east[pair_v]).sum(1), nv).astype(np.float32)
        v850 += np.bincount(pair_v, (tvec * g.north[pair_v]).sum(1), nv).astype(np.float32)
        tmq_ar = np.bincount(pair_v, f.ar_tmq[alive][pair_k] * amp * np.exp(-r2 / wdt), nv).astype(
            np.float32
        )
        tmq_add += tmq_ar
        prect_add += 2.5e-8 * tmq_ar
        ar_pairs = (pair_k, pair_v, r2.astype(np.float32), s)

    t500 = 252.5 + 0.62 * (t_sea - 288) + 0.6 * tanom + t500_add + 0.6 * nz[5]
    t200 = cl["t200"] - 0.5 * tanom + 0.5 * t500_add + 1.0 * nz[6]
    trefht = ts - 0.7 + 0.4 * nz[7]
    ps = (psl - psl_terrain) * np.exp(cl["ps_ratio_h"] / (ts + 0.00325 * g.topo))
    es = 611.2 * np.exp(17.67 * (trefht - 273.15) / (trefht - 29.65))
    qref = rh * 0.622 * es / ps
    tmq = qref * ps / 9.80665 * 0.23 + tmq_add
    qref = qref + 1.2e-4 * tmq_add
    prect = 1.2e-8 * (tmq / 25.0) ** 2 * cl["itcz"] * np.exp(1.0 * nz[8]) + prect_add
    tcol = (trefht + t500 + t200) / 3
    z1000 = RD_G * ts * np.log(psl / 1.0e5) + 0.55 * g.topo + 15 * nz[9]
    z200 = RD_G * tcol * np.log(ps / 2.0e4) + g.topo
    zbot = 0.2202 * trefht + 0.3 * nz[10]
    ubot = 0.72 * u850 - 0.8 + 1.0 * nz[11]
    vbot = 0.72 * v850 + 0.15 + 1.0 * nz[12]
    fields = {
        "TMQ": tmq,
        "U850": u850,
        "V850": v850,
        "UBOT": ubot,
        "VBOT": vbot,
        "QREFHT": qref,
        "PS": ps,
        "PSL": psl,
        "T200": t200,
        "T500": t500,
        "PRECT": prect,
        "TS": ts,
        "TREFHT": trefht,
        "Z1000": z1000,
        "Z200": z200,
        "ZBOT": zbot,
    }
    aux.update(
        psl_env=psl_env,
        psl_terrain=psl_terrain,
        tmq_env=tmq - tmq_add,
        u_env=u_env,
        v_env=v_env,
        tc_idx=tc_idx,
        tc_r2=tc_r2,
        tc_rm=tc_rm,
        tc_vmax=tc_vm,
        ar_pairs=ar_pairs,
        ar_len=ar_len,
        ar_width=f.ar_width[alive] if m else np.zeros(0, np.float32),
    )
    return {k: _f32(v) for k, v in fields.items()}, aux

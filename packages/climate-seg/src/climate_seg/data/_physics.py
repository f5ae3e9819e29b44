"""Physical model of synthetic CAM5-like frames on a spherical mesh (private).

Fields are built from a zonal climatology, fixed synthetic topography, travelling
planetary waves with geostrophic winds, smooth weather noise (small-scale, and a
large-scale upper-air temperature part), cyclones (vortices with a warm or a cold core)
and moisture plumes (moist filaments with a low-level jet) drawn by ``_features``. The
labels are not made here: the detection rules of ``_rules`` compute them from the fields.
Pressure, temperature and geopotential are tied together hypsometrically. All
vertex arrays are float32 of shape (V,) unless noted.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ._features import Features
from ._geometry import DEG, EARTH_R, RD_G, RHO, STEP_S, Geometry, _f32


def _unit(lat: NDArray[np.floating], lon: NDArray[np.floating]) -> NDArray[np.float32]:
    cl = np.cos(lat)
    return np.stack([cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)], -1).astype(np.float32)


def _dots(g: Geometry, pts: NDArray) -> NDArray[np.float32]:
    """Dot products of points ``(P, 3)`` with every vertex, shape (P, V) (no BLAS: K=3 is slow there)."""
    x = g.xyz_t
    return pts[:, 0, None] * x[0] + pts[:, 1, None] * x[1] + pts[:, 2, None] * x[2]


def _envelope(
    t: float, birth: NDArray[np.float32], life: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Intensity over a feature's life: grows for the first sixth, mature, decays in the last
    sixth (a plain sine would keep most features near the detection thresholds)."""
    return np.clip(2.0 * np.sin(np.pi * (t - birth) / life), 0, 1) * (
        (t >= birth) & (t <= birth + life)
    )


def frame_fields(g: Geometry, f: Features, t: float) -> tuple[dict, dict]:
    """Raw physical fields of one frame at step ``t`` of an episode.

    Returns
    -------
    fields : dict of str -> ndarray (V,) float32
        The 16 CAM5 channels in physical units (before calibration).
    aux : dict
        ``psl_env`` sea-level pressure without the cyclones and ``psl_terrain`` its
        extrapolation part over terrain (not in PS), each (V,).
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
        np.float32(np.cos(w)) * g.noise[f.noise_a[:13]]
        + np.float32(np.sin(w)) * g.noise[f.noise_b[:13]]
    )  # (13, V) unit variance
    tanom = 4.0 * env * q_quad

    t_sea = cl["t_sea"] + tanom + 1.2 * nz[0]
    ts = t_sea - 0.0065 * g.topo
    # sea-level reduction over cold high terrain extrapolates to high PSL (as in model output)
    psl_terrain = 1.2 * g.topo * np.clip((290 - ts) / 40, 0, 2)
    # synoptic pressure noise: weak in the tropics (where a cyclone's closed contour must
    # stand out), strong along the storm track
    psl_env = cl["psl"] + p_amp * env * q + (80 + 400 * env) * nz[1] + psl_terrain
    u850 = cl["u"] + ug + 1.5 * nz[2]
    v850 = vg + 1.0 * nz[3]
    rh = np.clip(cl["rh"] + 0.10 * nz[4], 0.2, 1.0)
    tmq_add = np.zeros_like(lat)
    prect_add = np.zeros_like(lat)
    tcore_add = np.zeros_like(lat)  # layer (500-200 hPa) temperature anomaly of cyclone cores
    psl = psl_env.copy()

    # cyclones (tropical cyclones and look-alikes): vortices with a warm or cold core
    cy_env = _envelope(t, f.cy_birth, f.cy_life)
    alive = np.nonzero(cy_env > 0.02)[0]
    if len(alive):
        tt = t - f.cy_birth[alive]
        clat = (
            f.cy_lat0[alive] + np.sign(f.cy_lat0[alive]) * f.cy_north[alive] * STEP_S / EARTH_R * tt
        )
        clon = f.cy_lon0[alive] + f.cy_east[alive] * STEP_S / (EARTH_R * np.cos(clat)) * tt
        vm, rm = f.cy_vmax[alive] * cy_env[alive], f.cy_rm[alive]
        cen = _unit(clat, clon)  # (N, 3)
        dot = _dots(g, cen)  # (N, V)
        idx = np.nonzero((dot > np.cos(8 * rm)[:, None]).any(0))[0]  # vertices near any cyclone
        px, py, pz = g.xyz[idx].T
        x = np.sqrt(np.maximum(2 * (1 - dot[:, idx]), 0)) / rm[:, None]  # (N, W) distance / rm
        vt = vm[:, None] * x * np.exp(1 - x)
        # centre x vertex, counter-clockwise about the centre, one (N, W) array per component
        # (the same products as np.cross, without its (N, W, 3) temporaries)
        cx, cy, cz = (cen[:, k, None] for k in range(3))
        tang = (cy * pz - cz * py, cz * px - cx * pz, cx * py - cy * px)
        norm = np.maximum(np.sqrt(tang[0] * tang[0] + tang[1] * tang[1] + tang[2] * tang[2]), 1e-9)
        swirl = np.sign(clat)[:, None] * vt
        wind = [(swirl * (t / norm)).sum(0) for t in tang]  # 3 x (W,)
        east, north = g.east[idx], g.north[idx]
        u850[idx] += wind[0] * east[:, 0] + wind[1] * east[:, 1] + wind[2] * east[:, 2]
        v850[idx] += wind[0] * north[:, 0] + wind[1] * north[:, 1] + wind[2] * north[:, 2]
        dp = 3.0 * RHO * vm**2  # ~ cyclostrophic: 45 m/s -> 73 hPa
        psl[idx] -= (dp[:, None] * np.exp(-x / 2.0)).sum(0)
        core = np.exp(-((x / 1.6) ** 2))
        frac = (vm / 40.0 * f.cy_moist[alive])[:, None]
        tcore_add[idx] += ((f.cy_core[alive] * cy_env[alive])[:, None] * core).sum(0)
        tmq_add[idx] += (22 * np.minimum(frac, 1.3) * np.exp(-((x / 2.5) ** 2))).sum(0)
        prect_add[idx] += (1.2e-6 * frac * np.exp(-((x / 1.4) ** 2))).sum(0)

    # plumes (atmospheric rivers and look-alikes): moist filaments with a low-level jet along them
    ar_env = _envelope(t, f.pl_birth, f.pl_life)
    alive = np.nonzero(ar_env > 0.02)[0]
    m = len(alive)
    if m:
        pts = f.pl_pts0[alive].copy()
        tt = (t - f.pl_birth[alive])[:, None]
        drift = f.pl_east[alive][:, None]
        pts[..., 1] += drift * STEP_S / (EARTH_R * np.cos(pts[..., 0])) * tt  # zonal drift
        pts[..., 0] += np.sign(pts[..., 0]) * 1.0 * STEP_S / EARTH_R * tt  # slow poleward drift
        xyz = _unit(pts[..., 0], pts[..., 1])  # (M, S, 3)
        n_s = xyz.shape[1]
        tangent = np.gradient(xyz, axis=1)
        tangent /= np.linalg.norm(tangent, axis=2, keepdims=True)
        cut = 2.2 * f.pl_width[alive]  # influence radius about the axis (smoothly tapered)
        # coarse cells that may hold a vertex within ``cut`` of an axis sample
        cx = g.cell_xyz_t
        near_cell = (
            xyz[..., 0, None] * cx[0] + xyz[..., 1, None] * cx[1] + xyz[..., 2, None] * cx[2]
        ).max(1)
        near_cell = near_cell > np.cos(cut + g.cell_radius + 0.01)[:, None]  # (M, C)
        ks, js, vs, r2s = [], [], [], []
        for k in range(m):
            v = np.concatenate([g.cell_members[c] for c in np.nonzero(near_cell[k])[0]])
            x = g.xyz_t[:, v]
            c = xyz[k]
            dot = c[:, 0, None] * x[0] + c[:, 1, None] * x[1] + c[:, 2, None] * x[2]  # (S, n)
            jk = dot.argmax(0)
            col = np.arange(len(v))
            d0 = dot[jk, col]
            # refine the closest approach between samples by a parabola through three samples
            dm, dp = dot[np.maximum(jk - 1, 0), col], dot[np.minimum(jk + 1, n_s - 1), col]
            curv = np.maximum(2 * d0 - dm - dp, 1e-12)
            peak = d0 + np.where((jk > 0) & (jk < n_s - 1), (dp - dm) ** 2 / (8 * curv), 0)
            r2k = np.maximum(2 * (1 - np.minimum(peak, 1)), 0)
            near = r2k < cut[k] ** 2
            ks.append(np.full(int(near.sum()), k))
            js.append(jk[near])
            vs.append(v[near])
            r2s.append(r2k[near])
        pair_k, j, pair_v, r2 = (np.concatenate(a) for a in (ks, js, vs, r2s))
        taper = (1 - r2 / cut[pair_k] ** 2) ** 2
        s = (j / (n_s - 1)).astype(np.float32)
        along = np.sqrt(np.minimum(1.0, 2.5 * np.sin(np.pi * np.clip(s, 0.03, 0.97))))
        amp = ar_env[alive][pair_k] * along * taper  # uniform along the plume but near its ends
        wdt = f.pl_width[alive][pair_k] ** 2
        jet = amp * np.exp(-r2 / (1.6 * wdt)) * f.pl_jet[alive][pair_k]
        tvec = jet[:, None] * tangent[pair_k, j]  # (P, 3)
        nv = g.n_vertices
        u850 += np.bincount(pair_v, (tvec * g.east[pair_v]).sum(1), nv).astype(np.float32)
        v850 += np.bincount(pair_v, (tvec * g.north[pair_v]).sum(1), nv).astype(np.float32)
        tmq_ar = np.bincount(pair_v, f.pl_tmq[alive][pair_k] * amp * np.exp(-r2 / wdt), nv).astype(
            np.float32
        )
        tmq_add += tmq_ar
        prect_add += 2.5e-8 * tmq_ar

    # large-scale upper-air temperature anomalies, in the same ratio as cyclone cores, so a
    # core's anomaly shows only against its surroundings
    w_ls = 0.5 * w
    tls = f.ls_amp * (
        np.float32(np.cos(w_ls)) * g.noise_ls[f.noise_ls[0]]
        + np.float32(np.sin(w_ls)) * g.noise_ls[f.noise_ls[1]]
    )
    t500 = 252.5 + 0.62 * (t_sea - 288) + 0.6 * tanom + tcore_add + tls + 0.3 * nz[5]
    t200 = cl["t200"] - 0.5 * tanom + tcore_add + tls + 0.5 * nz[6]
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
    aux = {"psl_env": psl_env, "psl_terrain": psl_terrain}
    return {k: _f32(v) for k, v in fields.items()}, aux

"""Mesh geometry for the synthetic CAM5 model (private): coordinates, local east/north
vectors, static climatology, fixed synthetic topography and a smooth noise bank."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree

RD_G = 287.05 / 9.80665  # R_d / g in m/K: hypsometric scale height per kelvin
EARTH_R = 6.371e6
OMEGA = 7.292e-5
RHO = 1.2
STEP_S = 3 * 3600.0  # seconds per 3-hourly step
DEG = np.pi / 180.0


def _f32(a: ArrayLike) -> NDArray[np.float32]:
    return np.asarray(a, dtype=np.float32)


class Geometry:
    """Precomputed mesh geometry: coordinates, local east/north vectors, topography, noise bank.

    Parameters
    ----------
    coords : ndarray, shape (V, 3)
        Unit vectors of the mesh vertices (CAM5: icosahedral level 5).
    n_noise : int
        Number of smooth unit-variance noise fields in the bank.
    """

    def __init__(self, coords: NDArray[np.floating], n_noise: int = 48) -> None:
        xyz = np.asarray(coords, dtype=np.float64)
        xyz = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
        self.n_vertices = xyz.shape[0]
        lon = np.arctan2(xyz[:, 1], xyz[:, 0])
        lat = np.arcsin(np.clip(xyz[:, 2], -1, 1))
        self.xyz = _f32(xyz)
        self.xyz_t = np.ascontiguousarray(self.xyz.T)  # (3, V)
        self.lon, self.lat = _f32(lon), _f32(lat)
        self.sin_lat, self.cos_lat = _f32(np.sin(lat)), _f32(np.maximum(np.cos(lat), 1e-6))
        self.east = _f32(np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], 1))
        self.north = _f32(
            np.stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)], 1)
        )
        self.hemi = np.where(lat >= 0, 1.0, -1.0).astype(np.float32)
        self.topo = self._topography(lon, lat)
        self.noise = self._noise_bank(xyz, n_noise)
        self.noise_ls = self._noise_bank(xyz, n_noise, passes=30, seed=20260102)
        self.clim = self._climatology()
        m = np.arange(8)[:, None]
        self.cos_m = _f32(np.cos(m * lon[None]))  # (8, V): cos(m lon) for wavenumbers m < 8
        self.sin_m = _f32(np.sin(m * lon[None]))
        self.pixel_area = 4 * np.pi / self.n_vertices  # steradians
        # coarse cells (vertices grouped by their nearest of the first V/16 vertices: the
        # level-3 mesh for a hierarchical icosahedral order) to find vertices near a curve fast
        n_cells = max(12, self.n_vertices // 16)
        centres = xyz[:n_cells]
        _, owner = cKDTree(centres).query(xyz)
        order = np.argsort(owner, kind="stable")
        bounds = np.searchsorted(owner[order], np.arange(n_cells + 1))
        self.cell_members = [order[bounds[c] : bounds[c + 1]] for c in range(n_cells)]
        self.cell_xyz_t = _f32(centres.T)  # (3, C)
        cosang = np.clip((xyz * centres[owner]).sum(1), -1, 1)
        self.cell_radius = float(np.arccos(cosang).max()) + 1e-6  # radians

    def _climatology(self) -> dict[str, NDArray[np.float32]]:
        """Static zonal climatology and factors, each (V,) float32."""
        lat, alat, sl = self.lat, np.abs(self.lat), self.sin_lat
        s2 = sl * sl
        env = np.exp(-(((alat - 47 * DEG) / (17 * DEG)) ** 2))  # midlatitude storm track
        return {
            k: _f32(v)
            for k, v in dict(
                env=env,
                denv=env * (-2 * (alat - 47 * DEG) / (17 * DEG) ** 2) * np.sign(lat),
                fcor=2 * OMEGA * self.hemi * np.maximum(np.abs(sl), np.sin(15 * DEG)),
                inv_cos=1.0 / np.maximum(self.cos_lat, 0.25),
                t_sea=301.5 - 38 * s2 - 14 * s2 * s2 - 3.0 * (lat < 0) * s2,
                psl=(
                    101100
                    - 700 * np.exp(-((lat / (12 * DEG)) ** 2))
                    + 900 * np.exp(-(((alat - 32 * DEG) / (10 * DEG)) ** 2))
                    - 1400 * np.exp(-(((alat - 62 * DEG) / (10 * DEG)) ** 2))
                ),
                u=(
                    -6.5 * np.exp(-((lat / (16 * DEG)) ** 2))
                    + 11 * np.exp(-(((alat - 45 * DEG) / (11 * DEG)) ** 2))
                    - 2.5 * np.exp(-(((alat - 72 * DEG) / (8 * DEG)) ** 2))
                ),
                rh=0.72
                + 0.08 * np.exp(-((lat / (10 * DEG)) ** 2))
                - 0.15 * np.exp(-(((alat - 25 * DEG) / (7 * DEG)) ** 2)),
                itcz=1 + 2.5 * np.exp(-(((lat - 6 * DEG) / (7 * DEG)) ** 2)),
                t200=221.5 - 4 * s2 - 12 * s2 * s2 * (lat < 0) - 6 * s2 * s2,
                ps_ratio_h=-self.topo / RD_G,
            ).items()
        }

    @staticmethod
    def _topography(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float32]:
        """Fixed synthetic orography (m): plateaus, ranges and an Antarctic ice sheet."""
        z = np.zeros_like(lat)
        # (lat, lon, height m, radius deg, elongation in lat)
        bumps = [
            (33, 88, 4700, 10, 0.6),  # Tibet
            (45, -110, 2000, 8, 2.2),  # Rockies
            (-20, -67, 3500, 4, 3.5),  # Andes
            (72, -40, 2800, 7, 1.4),  # Greenland
            (5, 20, 400, 14, 1.0),
            (50, 80, 300, 16, 0.6),
            (-25, 135, 250, 12, 0.8),
            (40, -95, 300, 12, 1.0),
            (60, 100, 500, 12, 0.8),
            (15, 40, 1000, 6, 1.0),  # Ethiopian highlands
        ]
        for la, lo, h, rad, el in bumps:
            dlon = np.angle(np.exp(1j * (lon - lo * DEG))) * np.cos(la * DEG)
            dlat = (lat - la * DEG) / el
            z += h * np.exp(-(dlon**2 + dlat**2) / (rad * DEG) ** 2)
        z += 3300.0 / (1 + np.exp((lat / DEG + 72.0) / 2.0))  # Antarctica
        return _f32(z)

    @staticmethod
    def _noise_bank(
        xyz: NDArray[np.float64], n: int, passes: int = 3, seed: int = 20260101
    ) -> NDArray[np.float32]:
        """Smooth unit-variance noise fields, shape (n, V): white noise averaged ``passes``
        times over each vertex and its six nearest (3 passes: about 3 neighbour rings; 30:
        large-scale, about 10 degrees on the CAM5 mesh)."""
        rng = np.random.default_rng(seed)
        _, nbr = cKDTree(xyz).query(xyz, k=7)
        v = xyz.shape[0]
        avg = csr_matrix(
            (np.full(7 * v, 1 / 7), nbr.ravel(), np.arange(0, 7 * v + 1, 7)), shape=(v, v)
        )
        noise = rng.standard_normal((n, v)).T
        for _ in range(passes):
            noise = avg @ noise
        noise = noise.T
        noise -= noise.mean(axis=1, keepdims=True)
        noise /= noise.std(axis=1, keepdims=True)
        return _f32(noise)

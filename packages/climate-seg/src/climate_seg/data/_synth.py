"""Synthetic CAM5-like data in the exact published format and naming.

See :func:`synthesize`. The physical model lives in ``_physics``; this module
calibrates it to the published per-channel statistics, derives labels from the
fields by the detection rules of ``_rules``, lays out episodes of consecutive 3-hourly frames per run, and
writes ``data-YYYY-MM-DD-HH-R-mesh.npz`` files.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ._features import DIFFICULTIES, Features, draw_features
from ._format import CHANNEL_MEAN, CHANNEL_STD, CHANNELS, N_CLASSES, RUNS, YEARS, format_name
from ._geometry import Geometry
from ._physics import frame_fields
from ._rules import DetectionRules, MeshNeighbourhoods, label_fields

__all__ = ["DIFFICULTIES", "SyntheticGenerator", "synthesize"]

_POSITIVE = ("TMQ", "QREFHT", "PRECT")  # calibrated by a power law to stay positive
#: AR rule threshold: IVT above this percentile of its latitude band's climatology ...
AR_PERCENTILE = 85.0
#: ... and above this floor (kg m-1 s-1). The floor decides almost everywhere: a percentile
#: alone rises with the rivers themselves (the more and stronger the plumes, the higher it
#: sits inside them, and their cores break into pieces).
AR_IVT_FLOOR = 550.0

#: A channel's calibration: ("pow", scale, exponent, reference) or ("lin", mean, scale, target mean).
_Transform = tuple[str, float | np.floating, float | np.floating, float | np.floating]


class SyntheticGenerator:
    """Frames of the synthetic model on a given mesh, calibrated to published statistics.

    Parameters
    ----------
    coords : ndarray, shape (V, 3)
        Mesh vertices (unit vectors), e.g. ``sphere_graphs.icosahedral(5).coords``.
    difficulty : {"realistic", "easy"}
        ``"realistic"``: tropical cyclones and atmospheric rivers among look-alikes that fail
        a detection rule (cold-core lows, extratropical cyclones, weak depressions; short or
        broad moist plumes, tropical moisture belts) and large-scale upper-air temperature
        anomalies; ``"easy"``: cyclones and rivers only.
    tc_rate, ar_rate : float, optional
        Mean number of tropical-cyclone-like vortices / river-like plumes alive per frame
        (default: the difficulty's rates); not all pass the rules.
    rules : DetectionRules, optional
        Thresholds of the labelling rules (default ``DetectionRules()``).

    Attributes
    ----------
    ivt_threshold : ndarray, shape (V,)
        The AR rule's IVT threshold per vertex: the larger of ``AR_IVT_FLOOR`` and the
        ``AR_PERCENTILE`` percentile of the IVT climatology of the vertex's latitude band.
    """

    def __init__(
        self,
        coords: NDArray[np.floating],
        difficulty: str = "realistic",
        tc_rate: float | None = None,
        ar_rate: float | None = None,
        rules: DetectionRules | None = None,
    ) -> None:
        if difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}.")
        self.geometry = Geometry(coords)
        self.neighbourhoods = MeshNeighbourhoods(self.geometry.xyz)
        self.difficulty, self.rules = difficulty, DetectionRules() if rules is None else rules
        self.tc_rate, self.ar_rate = tc_rate, ar_rate
        self._transforms: dict[str, _Transform] = {}
        self._calibrate()

    # -- calibration ---------------------------------------------------------
    def _calibrate(self, n_episodes: int = 40, length: int = 4) -> None:
        rng = np.random.default_rng(12345)
        acc: dict[str, list[NDArray[np.float32]]] = {
            k: [] for k in (*CHANNELS, "PSL_env", "PSL_terrain")
        }
        for _ in range(n_episodes):
            feats = self.draw(rng, length)
            for t in range(0, length, 2):
                fields, aux = frame_fields(self.geometry, feats, float(t))
                for k in CHANNELS:
                    acc[k].append(fields[k])
                acc["PSL_env"].append(aux["psl_env"])
                acc["PSL_terrain"].append(aux["psl_terrain"])
        self._transforms = {}
        for i, k in enumerate(CHANNELS):
            x = np.concatenate(acc["PSL_env" if k == "PSL" else k]).astype(np.float64)
            m, s = CHANNEL_MEAN[i], CHANNEL_STD[i]
            if k == "PS":  # PS = calibrated PSL * (PS/PSL)**kappa keeps PS <= PSL over terrain
                continue
            if k in _POSITIVE:
                x = np.maximum(x, 1e-30) / x.mean()
                xs = x[::7]  # the exponent's bisection on a subsample (a fixed stride)
                lo, hi = 0.05, 4.0
                for _ in range(40):  # bisection: coefficient of variation of x**b grows with b
                    b = 0.5 * (lo + hi)
                    y = xs**b
                    lo, hi = (b, hi) if y.std() / y.mean() < s / m else (lo, b)
                y = x**b
                self._transforms[k] = (
                    "pow",
                    m / y.mean(),
                    b,
                    float(np.mean(np.concatenate(acc[k]))),
                )
            else:
                self._transforms[k] = ("lin", x.mean(), s / x.std(), m)
        psl_all = np.concatenate(acc["PSL"]).astype(np.float64)
        env_all = np.concatenate(acc["PSL_env"]).astype(np.float64)
        psl = self._apply("PSL", env_all) - (env_all - psl_all)
        terrain = np.concatenate(acc["PSL_terrain"]).astype(np.float64)
        ratio = np.concatenate(acc["PS"]).astype(np.float64) / (psl_all - terrain)
        psl = psl - self._transforms["PSL"][2] * terrain
        m_ps = CHANNEL_MEAN[CHANNELS.index("PS")]
        lo, hi = 0.1, 10.0
        for _ in range(40):  # bisection on the terrain exponent: mean PS decreases with kappa
            kappa = 0.5 * (lo + hi)
            lo, hi = (kappa, hi) if (psl * ratio**kappa).mean() > m_ps else (lo, kappa)
        self._kappa = np.float32(kappa)
        # IVT climatology per band of |latitude| (5 degrees) for the AR threshold
        tmq, u, v = (self._apply(k, np.concatenate(acc[k])) for k in ("TMQ", "U850", "V850"))
        transport = (tmq * np.hypot(u, v)).reshape(-1, self.geometry.n_vertices)
        alat = np.abs(np.degrees(self.geometry.lat))
        edges = np.arange(0, 95, 5.0)
        band = np.clip(np.digitize(alat, edges) - 1, 0, len(edges) - 2)
        level = np.array(
            [
                np.percentile(transport[:, band == b], AR_PERCENTILE)
                if np.any(band == b)
                else AR_IVT_FLOOR
                for b in range(len(edges) - 1)
            ]
        )
        self.ivt_threshold = np.maximum(np.interp(alat, edges[:-1] + 2.5, level), AR_IVT_FLOOR)

    def _apply(self, k: str, x: NDArray) -> NDArray[np.float32]:
        tr = self._transforms[k]
        if tr[0] == "pow":
            _, a, b, ref = tr
            return (a * (np.maximum(x, 1e-30) / ref) ** b).astype(np.float32)
        _, mu, scale, m = tr
        return ((x - mu) * scale + m).astype(np.float32)

    # -- frames ---------------------------------------------------------------
    def draw(self, rng: np.random.Generator, length: int) -> Features:
        """Random episode state for ``length`` consecutive frames."""
        return draw_features(
            rng, length, self.geometry.noise.shape[0], self.difficulty, self.tc_rate, self.ar_rate
        )

    def frame(self, feats: Features, t: float) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """One frame.

        Parameters
        ----------
        feats : Features
            Episode state from :meth:`draw`.
        t : float
            Step (3-hourly) within the episode.

        Returns
        -------
        data : ndarray, shape (16, V), float32
            Raw physical units, channel-major.
        labels : ndarray, shape (V,), int64
            0 background, 1 TC, 2 AR, computed from ``data`` by the detection rules
            (``climate_seg.data.label_fields``).
        """
        raw, aux = frame_fields(self.geometry, feats, float(t))
        data = np.empty((len(CHANNELS), self.geometry.n_vertices), np.float32)
        for i, k in enumerate(CHANNELS):
            if k not in ("PS", "PSL"):
                data[i] = self._apply(k, raw[k])
        i_ps, i_psl = CHANNELS.index("PS"), CHANNELS.index("PSL")
        # calibrate the environment only: cyclone pressure deficits keep their physical size
        data[i_psl] = self._apply("PSL", aux["psl_env"]) - (aux["psl_env"] - raw["PSL"])
        terrain = aux["psl_terrain"]
        ratio = raw["PS"] / (raw["PSL"] - terrain)
        data[i_ps] = (data[i_psl] - self._transforms["PSL"][2] * terrain) * ratio**self._kappa
        return data, label_fields(data, self.neighbourhoods, self.ivt_threshold, self.rules)


_CACHE: dict[str, SyntheticGenerator] = {}
#: One episode to write: output folder, run, first datetime, length, seed.
_Task = tuple[Path, int, _dt.datetime, int, np.random.SeedSequence]


def _generator(
    coords: NDArray[np.floating], difficulty: str, tc_rate: float | None, ar_rate: float | None
) -> SyntheticGenerator:
    c = np.ascontiguousarray(coords, dtype=np.float64)
    key = hashlib.sha1(c.tobytes()).hexdigest() + f"{difficulty}/{tc_rate}/{ar_rate}"
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = SyntheticGenerator(c, difficulty, tc_rate, ar_rate)
    return _CACHE[key]


def _mesh_coords() -> NDArray[np.float64]:
    try:
        from sphere_graphs import icosahedral
    except ImportError:
        raise ValueError(
            "synthesize needs sphere_graphs.icosahedral(5) for the CAM5 mesh, which this "
            "installation lacks; pass coords=(10242, 3) unit vectors explicitly."
        ) from None
    return np.asarray(icosahedral(5).coords)


def _schedule(
    rng: np.random.Generator, n_samples: int, episode_length: int
) -> list[tuple[int, _dt.datetime, int]]:
    """Episodes as (run, first datetime, length), names never repeated."""
    used: set[tuple[int, int]] = set()
    episodes: list[tuple[int, _dt.datetime, int]] = []
    left = n_samples
    while left > 0:
        length = min(episode_length, left)
        for _ in range(1000):
            run = int(rng.choice(RUNS))
            year = int(rng.choice(YEARS))
            start = _dt.datetime(year, 1, 1) + _dt.timedelta(
                days=int(rng.integers(0, 365)), hours=3 * int(rng.integers(0, 8))
            )
            steps = [(run, (start.toordinal() * 8 + start.hour // 3) + k) for k in range(length)]
            end = start + _dt.timedelta(hours=3 * (length - 1))
            if end.year in YEARS and not used.intersection(steps):
                used.update(steps)
                break
        else:
            raise ValueError("could not place that many non-overlapping frames; use fewer samples.")
        episodes.append((run, start, length))
        left -= length
    return episodes


_EYE = np.eye(N_CLASSES, dtype=np.float32)
_WORKER: dict[str, SyntheticGenerator] = {}


def _write_episode(
    gen: SyntheticGenerator,
    out: Path,
    run: int,
    start: _dt.datetime,
    length: int,
    ss: np.random.SeedSequence,
) -> list[Path]:
    """Generate and write the ``length`` frames of one episode; returns their paths."""
    feats = gen.draw(np.random.default_rng(ss), length)
    paths = []
    for t in range(length):
        when = start + _dt.timedelta(hours=3 * t)
        data, labels = gen.frame(feats, t)
        path = out / format_name(when.date(), when.hour // 3, run)
        np.savez(path, data=data, labels=np.ascontiguousarray(_EYE[:, labels]))
        paths.append(path)
    return paths


def _init_worker(
    coords: NDArray[np.floating], difficulty: str, tc_rate: float | None, ar_rate: float | None
) -> None:
    _WORKER["gen"] = _generator(coords, difficulty, tc_rate, ar_rate)


def _worker_episode(task: _Task) -> list[Path]:
    return _write_episode(_WORKER["gen"], *task)


def synthesize(
    out_dir: str | os.PathLike,
    n_samples: int,
    seed: int = 0,
    episode_length: int = 8,
    coords: NDArray[np.floating] | None = None,
    tc_rate: float | None = None,
    ar_rate: float | None = None,
    difficulty: str = "realistic",
    workers: int = 1,
) -> list[Path]:
    """Write synthetic CAM5 files (exact published format and naming).

    Frames come in episodes of ``episode_length`` consecutive 3-hourly files of one run
    (features advect coherently from file to file); episodes start at random dates of
    the years 2106-2114 and runs in {1, 2, 3, 4, 6}, without name clashes.

    Parameters
    ----------
    out_dir : path-like
        Created if needed; existing files of the same name are overwritten.
    n_samples : int
        Number of files.
    seed : int
        Everything (dates, runs, features, noise) is reproducible from it.
    episode_length : int
        Consecutive frames per episode.
    coords : ndarray, shape (V, 3), optional
        Mesh; defaults to ``sphere_graphs.icosahedral(5).coords`` (the CAM5 mesh).
    tc_rate, ar_rate : float, optional
        Mean number of tropical-cyclone-like vortices / river-like plumes alive per frame
        (default: the difficulty's); not all are labelled (weak ones fail a rule).
    difficulty : {"realistic", "easy"}
        See :class:`SyntheticGenerator`; labels always come from the detection rules.
    workers : int
        Processes writing episodes in parallel; the output does not depend on it.

    Returns
    -------
    list of Path
        Files written, in generation order (episode by episode).

    Notes
    -----
    Each file holds ``data`` float32 (16, V) in raw physical units (channel order
    ``CHANNELS``) and one-hot ``labels`` float32 (3, V) computed from ``data`` by the
    detection rules (:func:`climate_seg.data.label_fields`). Over many files the
    per-channel mean and std approach the published ones and class fractions are
    close to 0.1 % TC and 2.2 % AR (a few hundred files vary: one episode of 8 frames
    holds only a few cyclones).
    """
    if int(n_samples) < 0 or int(episode_length) < 1:
        raise ValueError("n_samples must be >= 0 and episode_length >= 1.")
    mesh = _mesh_coords() if coords is None else np.asarray(coords, np.float64)
    gen = _generator(mesh, difficulty, tc_rate, ar_rate)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    episodes = _schedule(rng, int(n_samples), int(episode_length))
    seeds = np.random.SeedSequence(seed).spawn(len(episodes))
    tasks = [
        (out, run, start, length, ss)
        for (run, start, length), ss in zip(episodes, seeds, strict=True)
    ]
    if workers <= 1 or len(tasks) < 2:
        return [p for task in tasks for p in _write_episode(gen, *task)]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else methods[0])
    with ProcessPoolExecutor(
        max_workers=int(workers),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(mesh, difficulty, tc_rate, ar_rate),
    ) as pool:
        chunks = pool.map(_worker_episode, tasks)
        written = [p for chunk in chunks for p in chunk]
    return written

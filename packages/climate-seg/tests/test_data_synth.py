"""Synthetic CAM5 data: format, statistics, physics, labels, reproducibility, speed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from climate_seg.data import (
    CHANNEL_MEAN,
    CHANNEL_STD,
    CHANNELS,
    SyntheticGenerator,
    parse_name,
    read_sample,
    synthesize,
)
from climate_seg.data._features import TC, draw_features

HERE = Path(__file__).resolve()
REF_CANDIDATES = [
    HERE.parents[4] / "shared" / "reference",
    HERE.parents[3] / "shared" / "reference",
]


def mesh_coords() -> np.ndarray:
    """CAM5 mesh: sphere_graphs.icosahedral(5) when available, else the reference array."""
    try:
        from sphere_graphs import icosahedral

        return np.asarray(icosahedral(5).coords)
    except ImportError:
        pass
    for ref in REF_CANDIDATES:
        if (ref / "cam5_icosphere_l5.npy").is_file():
            return np.load(ref / "cam5_icosphere_l5.npy")
    pytest.skip(
        "neither sphere_graphs.icosahedral nor shared/reference/cam5_icosphere_l5.npy is available"
    )


@pytest.fixture(scope="module")
def coords():
    return mesh_coords()


@pytest.fixture(scope="module")
def gen(coords):
    return SyntheticGenerator(coords)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, coords):
    out = tmp_path_factory.mktemp("synth")
    files = synthesize(out, 96, seed=7, episode_length=12, coords=coords)
    return out, files


@pytest.fixture(scope="module")
def loaded(folder):
    _, files = folder
    pairs = [read_sample(f) for f in files]
    return files, np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def test_format_keys_shapes_dtypes(folder):
    out, files = folder
    assert len(files) == 96 and len(set(files)) == 96
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in files)
    for f in files[:5]:
        key = parse_name(f.name)
        assert 2106 <= key.year <= 2114 and key.run in (1, 2, 3, 4, 6) and 0 <= key.slot <= 7
        with np.load(f) as npz:
            assert set(npz.files) == {"data", "labels"}
            assert npz["data"].shape == (16, 10242) and npz["data"].dtype.kind == "f"
            assert npz["labels"].shape == (3, 10242)
            onehot = npz["labels"]
            assert np.all((onehot == 0) | (onehot == 1)) and np.all(onehot.sum(0) == 1)


def test_channel_stats_near_published(loaded):
    _, data, _ = loaded
    for i, name in enumerate(CHANNELS):
        x = data[:, i].astype(np.float64)
        assert abs(x.mean() - CHANNEL_MEAN[i]) < 0.15 * CHANNEL_STD[i], name
        assert 0.7 < x.std() / CHANNEL_STD[i] < 1.5, (name, x.std(), CHANNEL_STD[i])
    assert np.all(data[:, CHANNELS.index("PRECT")] >= 0)
    assert np.all(data[:, CHANNELS.index("TMQ")] > 0)


def test_physical_consistency(loaded, coords):
    _, data, _ = loaded
    lat = np.arcsin(coords[:, 2])
    ts = data[:, CHANNELS.index("TS")].mean(0)
    assert ts[np.abs(lat) < 0.3].mean() > ts[np.abs(lat) > 1.1].mean() + 25  # warm tropics
    tmq = data[:, CHANNELS.index("TMQ")].mean(0)
    assert tmq[np.abs(lat) < 0.3].mean() > 2 * tmq[np.abs(lat) > 1.0].mean()  # moist tropics
    ps, psl = data[:, CHANNELS.index("PS")], data[:, CHANNELS.index("PSL")]
    assert np.mean(ps <= psl + 50) > 0.95
    ps_anom, psl_anom = ps - ps.mean(0), psl - psl.mean(0)  # PS follows PSL in time
    assert np.corrcoef(ps_anom.ravel(), psl_anom.ravel())[0, 1] > 0.8
    sea = (ps / psl).ravel() > 0.995  # near sea level: Z1000 follows PSL hypsometrically
    z1000 = data[:, CHANNELS.index("Z1000")].ravel()[sea]
    assert np.corrcoef(z1000, psl.ravel()[sea])[0, 1] > 0.8


def one_cyclone(gen, lat_deg, lon_deg, core=6.3, vmax=45.0, length=4, birth=-10.0, life=40.0):
    """An episode holding a single cyclone (no plumes); ``core`` > 0: warm core."""
    feats = draw_features(
        np.random.default_rng(0), length, gen.geometry.noise.shape[0], "easy", 0.0, 0.0
    )
    for name, val in dict(
        cy_kind=[TC],
        cy_lat0=[np.deg2rad(lat_deg)],
        cy_lon0=[np.deg2rad(lon_deg)],
        cy_birth=[birth],
        cy_life=[life],
        cy_vmax=[vmax],
        cy_rm=[np.deg2rad(1.8)],
        cy_core=[core],
        cy_moist=[1.0],
        cy_east=[-4.5],
        cy_north=[2.0],
    ).items():
        setattr(feats, name, np.asarray(val, np.float32))
    return feats


def centre_of(lat_deg, lon_deg, tt, east=-4.5, north=2.0):
    lat0 = np.deg2rad(lat_deg)
    clat = lat0 + np.sign(lat0) * north * 10800 / 6.371e6 * tt
    clon = np.deg2rad(lon_deg) + east * 10800 / (6.371e6 * np.cos(clat)) * tt
    return np.array([np.cos(clat) * np.cos(clon), np.cos(clat) * np.sin(clon), np.sin(clat)])


@pytest.mark.parametrize("hemi", [1.0, -1.0])
def test_tc_rotation_and_structure(gen, coords, hemi):
    data, labels = gen.frame(one_cyclone(gen, hemi * 15.0, 140.0), 0.0)
    g = gen.geometry
    c = centre_of(hemi * 15.0, 140.0, 10.0)
    r = np.arccos(np.clip(coords @ c, -1, 1))
    ring = (r > np.deg2rad(1.0)) & (r < np.deg2rad(5.0))
    u, v = data[CHANNELS.index("U850")], data[CHANNELS.index("V850")]
    wind = u[:, None] * g.east + v[:, None] * g.north  # (V, 3)
    spin = np.einsum("vi,vi->v", np.cross(coords - c, wind), np.broadcast_to(c, coords.shape))
    assert (
        np.sign(spin[ring].mean()) == hemi
    )  # counter-clockwise in the north, clockwise in the south
    psl = data[CHANNELS.index("PSL")]
    assert (
        psl[r < np.deg2rad(2)].mean()
        < psl[(r > np.deg2rad(10)) & (r < np.deg2rad(15))].mean() - 2000
    )
    for name in ("TMQ", "PRECT", "T500", "T200"):
        x = data[CHANNELS.index(name)]
        assert (
            x[r < np.deg2rad(2)].mean() > x[(r > np.deg2rad(10)) & (r < np.deg2rad(15))].mean()
        ), name
    assert np.all(labels[r < np.deg2rad(2.0)] == 1) and not np.any(labels[r > np.deg2rad(6)] == 1)


def test_cold_core_twin_is_not_labelled(gen, coords):
    """The same cyclone with a cold core: identical pressure, winds and moisture, no TC label."""
    warm, lw = gen.frame(one_cyclone(gen, 18.0, 60.0, core=6.3), 0.0)
    cold, lc = gen.frame(one_cyclone(gen, 18.0, 60.0, core=-2.0), 0.0)
    same = [CHANNELS.index(k) for k in ("PSL", "U850", "V850", "UBOT", "VBOT", "TMQ", "PRECT")]
    np.testing.assert_array_equal(warm[same], cold[same])
    assert np.sum(lw == 1) >= 3 and not np.any(lc == 1)


def test_cyclone_lives_for_days_and_moves(gen, coords):
    """A mature storm is labelled in every 3-hourly frame for 3 days and travels."""
    feats = one_cyclone(gen, 12.0, -40.0, length=24, birth=-12.0, life=48.0)
    centres = []
    for t in range(24):
        _, labels = gen.frame(feats, float(t))
        assert 3 <= np.sum(labels == 1) <= 19, t  # the core: at most the 4-degree disk
        centres.append(coords[labels == 1].mean(0))
    centres = np.asarray(centres) / np.linalg.norm(centres, axis=1, keepdims=True)
    steps = np.degrees(np.arccos(np.clip((centres[1:] * centres[:-1]).sum(1), -1, 1)))
    assert steps.max() < 3.0  # coherent from frame to frame
    assert np.degrees(np.arccos(np.clip(centres[0] @ centres[-1], -1, 1))) > 4.0  # but moving


def test_class_fractions_plausible(loaded):
    _, _, labels = loaded
    frac = np.bincount(labels.ravel(), minlength=3) / labels.size
    print(f"class fractions: background {frac[0]:.4f}, TC {frac[1]:.5f}, AR {frac[2]:.4f}")
    assert 0.0002 < frac[1] < 0.005
    assert 0.008 < frac[2] < 0.05


@pytest.mark.parametrize("seed", [0, 7])
def test_default_class_fractions_near_published(tmp_path, coords, seed):
    """~50 independent frames with the default rates: close to 0.1 % TC and 2.2 % AR (cam5.json)."""
    files = synthesize(tmp_path, 48, seed=seed, episode_length=1, coords=coords)
    labels = np.stack([read_sample(f)[1] for f in files])
    frac = np.bincount(labels.ravel(), minlength=3) / labels.size
    assert 0.0005 < frac[1] < 0.002, frac
    assert 0.015 < frac[2] < 0.03, frac


def test_reproducible(tmp_path, coords):
    a = synthesize(tmp_path / "a", 6, seed=3, episode_length=3, coords=coords)
    b = synthesize(tmp_path / "b", 6, seed=3, episode_length=3, coords=coords)
    c = synthesize(tmp_path / "c", 6, seed=4, episode_length=3, coords=coords)
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b, strict=True):
        xa, ya = read_sample(pa)
        xb, yb = read_sample(pb)
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    assert [p.name for p in a] != [p.name for p in c]


def test_workers_give_identical_output(tmp_path, coords):
    a = synthesize(tmp_path / "a", 8, seed=5, episode_length=2, coords=coords)
    b = synthesize(tmp_path / "b", 8, seed=5, episode_length=2, coords=coords, workers=2)
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b, strict=True):
        assert np.array_equal(read_sample(pa)[0], read_sample(pb)[0])


def test_temporal_coherence(loaded):
    files, data, labels = loaded
    keys = [parse_name(f.name) for f in files]
    psl = data[:, CHANNELS.index("PSL")]
    anom = psl - psl.mean(0)
    consecutive, unrelated = [], []
    for i in range(len(files) - 1):
        r = np.corrcoef(anom[i], anom[i + 1])[0, 1]
        same = keys[i + 1].run == keys[i].run and keys[i + 1].step == keys[i].step + 1
        (consecutive if same else unrelated).append(r)
    assert len(consecutive) >= 80
    assert np.mean(consecutive) > 0.9 and np.mean(consecutive) > np.mean(unrelated) + 0.2
    # AR masks overlap from one 3-hourly frame to the next but are not frozen
    ious = []
    for i in range(len(files) - 1):
        if keys[i + 1].step == keys[i].step + 1 and keys[i + 1].run == keys[i].run:
            a, b = labels[i] == 2, labels[i + 1] == 2
            if a.sum() > 20 and b.sum() > 20:
                ious.append((a & b).sum() / (a | b).sum())
    assert ious and 0.3 < np.mean(ious) < 0.98


def test_speed(tmp_path, coords):
    synthesize(tmp_path / "warm", 2, seed=0, coords=coords)  # calibration is cached per mesh
    t0, c0 = time.perf_counter(), time.process_time()
    synthesize(tmp_path / "bench", 50, seed=1, coords=coords)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"synthesize: {50 / wall:.0f} files/s wall, {50 / cpu:.0f} files/s CPU")
    assert 50 / wall > 20  # lenient: shared CI machines; ~200-300 files/s on an idle core


def test_default_mesh_is_sphere_graphs_icosahedral(tmp_path):
    sg = pytest.importorskip("sphere_graphs")
    if not hasattr(sg, "icosahedral"):
        with pytest.raises(ValueError, match="coords"):
            synthesize(tmp_path, 1)
        pytest.skip("sphere_graphs.icosahedral not available yet")
    ref = next(
        (
            r / "cam5_icosphere_l5.npy"
            for r in REF_CANDIDATES
            if (r / "cam5_icosphere_l5.npy").is_file()
        ),
        None,
    )
    if ref is not None:  # the published files' vertex order
        np.testing.assert_allclose(np.asarray(sg.icosahedral(5).coords), np.load(ref), atol=1e-9)
    (path,) = synthesize(tmp_path, 1, seed=0)
    assert read_sample(path)[0].shape == (16, 10242)


def pixelwise_ap(files, n_train):
    """AP (TC, AR) of a per-pixel logistic regression on the normalised 16 channels, trained on
    ``files[:n_train]`` and tested on the rest: what a model without spatial context reaches."""
    sklearn = pytest.importorskip("sklearn", reason="scikit-learn is in climate-seg's test extra")
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    del sklearn
    pairs = [read_sample(f) for f in files]
    x = np.stack([p[0].T for p in pairs])  # (F, V, 16)
    y = np.stack([p[1] for p in pairs])
    mean, std = x[:n_train].reshape(-1, 16).mean(0), x[:n_train].reshape(-1, 16).std(0)
    x = (x - mean) / std
    fit = LogisticRegression(max_iter=500).fit(x[:n_train].reshape(-1, 16), y[:n_train].ravel())
    prob = fit.predict_proba(x[n_train:].reshape(-1, 16))
    yt = y[n_train:].ravel()
    return tuple(float(average_precision_score(yt == c, prob[:, c])) for c in (1, 2))


def test_no_pixel_decides_its_class(tmp_path, coords):
    """Realistic set: a per-pixel classifier stays below the bounds of the benchmark (AP <= 0.5
    TC, <= 0.6 AR); without the look-alikes (easy) the same classifier finds the cyclones."""
    real = sorted(synthesize(tmp_path / "r", 64, seed=1, episode_length=4, coords=coords))
    easy = sorted(
        synthesize(tmp_path / "e", 64, seed=1, episode_length=4, coords=coords, difficulty="easy")
    )
    tc, ar = pixelwise_ap(real, 40)
    tc_easy, ar_easy = pixelwise_ap(easy, 40)
    print(f"per-pixel AP realistic TC {tc:.3f} AR {ar:.3f}; easy TC {tc_easy:.3f} AR {ar_easy:.3f}")
    assert tc <= 0.5 and ar <= 0.6
    assert tc_easy > tc + 0.2 and ar_easy > ar


@pytest.mark.slow
def test_benchmark_protocol_default_unet_far_above_per_pixel(tmp_path, coords):
    """Issue 15's protocol once, as a user runs it: ``data synth --samples 240 --seed 0``; a
    per-pixel classifier trained on the first 160 files and tested on the last 80 stays at
    or below AP 0.5 TC / 0.6 AR, and the default U-Net (every default, seed 0, the time
    split) is far above it on its test split. Measured here: per-pixel 0.20 / 0.49, U-Net
    0.87 / 0.89 (README; seeds 1 and 2 give 0.76-0.86, hence the margin below)."""
    import json

    from climate_seg import load_config, train

    files = sorted(synthesize(tmp_path / "data", 240, seed=0, coords=coords))
    tc, ar = pixelwise_ap(files, 160)
    cfg = load_config(None, data=str(tmp_path / "data"), out=str(tmp_path / "run"))
    run = Path(train(cfg))
    unet = json.loads((run / "test_metrics.json").read_text())["test"]["grid"]
    print(
        f"per-pixel AP TC {tc:.3f} AR {ar:.3f}; U-Net AP TC {unet['ap_tc']:.3f} AR {unet['ap_ar']:.3f}"
    )
    assert tc <= 0.5 and ar <= 0.6
    assert unet["ap_tc"] >= 0.7 and unet["ap_ar"] >= 0.7
    assert unet["ap_tc"] > tc + 0.3 and unet["ap_ar"] > ar + 0.2

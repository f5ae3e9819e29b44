"""Patches, z-order images, baselines, the DeepSphere variants and the runner (CLI, resumable)."""

import json
import subprocess
import sys
from pathlib import Path

import healpy as hp
import numpy as np
import pytest
import sphere_graphs as sg
import torch
from cosmo_exp import baselines, data, experiment, models
from sphere_unet import SphericalClassifier

RUN = Path(__file__).resolve().parents[1] / "run.py"


def test_patches_are_healpix_pixels_of_the_order():
    nside, order = 8, 2
    maps = np.arange(2 * 12 * nside**2, dtype=np.float32).reshape(2, -1)
    p = data.patches(maps, nside, order)
    assert p.shape == (2, 48, 16)
    # every pixel of patch j lies inside HEALPix pixel j at nside = order (healpy reference)
    vec = np.stack(hp.pix2vec(nside, np.arange(12 * nside**2), nest=True), 1)
    parent = hp.vec2pix(order, *vec.T, nest=True)
    for j in (0, 17, 47):
        assert np.all(parent[p[0, j].astype(int)] == j)
    with pytest.raises(ValueError, match="power of two"):
        data.patches(maps, nside, 3)


def test_zorder_image_is_a_square_grid():
    nside, order = 16, 2
    side = nside // order
    perm = data.zorder_permutation(nside, order)
    assert sorted(perm) == list(range(side * side))
    img = perm.reshape(side, side)  # NESTED pixel at each image position
    vec = np.stack(hp.pix2vec(nside, img.ravel(), nest=True), 1).reshape(side, side, 3)
    # image neighbours are sphere neighbours: adjacent cells are ~ one pixel apart
    d_row = np.linalg.norm(vec[1:] - vec[:-1], axis=-1)
    d_col = np.linalg.norm(vec[:, 1:] - vec[:, :-1], axis=-1)
    pix = hp.nside2resol(nside)
    assert d_row.max() < 1.6 * pix and d_col.max() < 1.6 * pix
    assert d_row.min() > 0.5 * pix and d_col.min() > 0.5 * pix


def test_histogram_features_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 300)).astype(np.float32)
    edges = np.linspace(-2, 2, 9)
    ref = np.stack([np.histogram(np.clip(r, -2, 2 - 1e-9), edges)[0] for r in x]) / 300
    np.testing.assert_allclose(baselines.histogram_features(x, edges), ref)


def test_psd_features_follow_the_signal_power():
    nside, order = 8, 1
    rng = np.random.default_rng(1)
    x = rng.standard_normal((24, 64)).astype(np.float32)
    f1 = baselines.psd_features(x, nside, order)
    f2 = baselines.psd_features(3 * x, nside, order)
    np.testing.assert_allclose(f2 - f1, np.log(9.0), rtol=1e-6)


def test_default_widths_are_the_published_ones():
    s = data.patch_sampling(32, 2, patch=5)
    for k in (8, 20, 40):
        assert sg.default_kernel_width(s, k) == sg.healpix_kernel_width(32, k)


def test_deepsphere_variants():
    torch.manual_seed(0)
    s = data.patch_sampling(16, 2)
    x = torch.randn(3, s.n_vertices, 1)
    fcn = models.deepsphere("fcn", s, 8, 1, width=4, kernel_size=3)
    assert isinstance(fcn, SphericalClassifier) and fcn(x).shape == (3, 2)
    cnn = models.deepsphere("cnn", s, 8, 1, width=4, kernel_size=3)
    assert isinstance(cnn, SphericalClassifier) and cnn(x).shape == (3, 2)
    # the CNN head sees the last level's 16 vertices x 16 channels, the FCN their mean
    assert cnn.head.in_features == 16 * fcn.head.in_features
    cnn.load_state_dict(
        {k: v for k, v in fcn.state_dict().items() if not k.startswith("head")}, strict=False
    )
    cnn.eval()
    fcn.eval()
    flat = cnn.features(x).reshape(3, 16, -1)
    torch.testing.assert_close(flat.mean(1), fcn.features(x))


def test_depth_keeps_more_than_k_vertices():
    assert [models.depth_for(v, 40) for v in (1024, 256, 64)] == [2, 1, 0]
    assert [models.depth_for(v, 8) for v in (1024, 256, 64, 16)] == [3, 2, 1, 0]
    for v, k in ((1024, 20), (64, 8)):
        assert v // 4 ** models.depth_for(v, k) > k


def test_image_cnn_runs_on_patches():
    m = models.Image2dCNN(8, data.zorder_permutation(16, 2), depth=2, width=4)
    assert m(torch.randn(5, 64, 1)).shape == (5, 2)


def test_quick_run_cli_is_resumable(tmp_path):
    # a smaller "--quick" (two orders, no noise) keeps this test short; the full
    # `run.py run --quick` (3 orders x 2 noise levels, ~20 s) is the same code path
    out = tmp_path / "run"
    for order in ("4", "1"):
        subprocess.run(
            [
                sys.executable,
                str(RUN),
                "run",
                "--out",
                str(out),
                "--quick",
                "--orders",
                order,
                "--noise",
                "0",
            ],
            check=True,
            capture_output=True,
        )
    res = json.loads((out / "results.json").read_text())
    assert isinstance(res, list)
    assert {r["order"] for r in res} == {1, 4}
    assert len(res) == 2 * (2 * 3 + 3)  # 2 orders x (2 DeepSphere x 3 k + 3 others)
    for r in res:
        assert set(r) >= {"method", "k", "order", "noise", "accuracy", "n_test", "seconds"}
        assert 0.0 <= r["accuracy"] <= 1.0 and r["n_test"] > 0
    assert {r["k"] for r in res if r["method"] == "deepsphere_fcn"} == {8, 20, 40}
    assert {r["method"] for r in res} == set(experiment.METHODS)
    table = (out / "results.md").read_text()
    assert "deepsphere_cnn k=40" in table and "svm_psd" in table
    assert (out / "accuracy.png").read_bytes()[:4] == b"\x89PNG"
    # a part with other maps must not be merged into the same results
    bad = subprocess.run(
        [sys.executable, str(RUN), "run", "--out", str(out), "--quick", "--n-maps", "12"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "other maps" in bad.stderr


def test_parallel_cells_give_the_same_results(tmp_path):
    """Cells in worker processes (longest first) give exactly the serial results:
    every cell seeds its own model, noise and shuffling."""
    cfg = experiment.Config.quick()
    cfg.orders, cfg.noise, cfg.ks = (4,), (0.0, 1.0), (8,)
    cfg.methods = ("deepsphere_fcn", "cnn2d", "svm_histogram")
    serial = experiment.run(cfg, tmp_path / "serial", log=lambda s: None)
    parallel = experiment.run(cfg, tmp_path / "parallel", log=lambda s: None, jobs=2)
    assert len(serial) == len(parallel) == 6

    def accuracies(rs):
        return {(r["method"], r["k"], r["noise"]): r["accuracy"] for r in rs}

    assert accuracies(parallel) == accuracies(serial)
    with pytest.raises(ValueError, match="jobs"):
        experiment.run(cfg, tmp_path / "bad", jobs=0)

"""The continuous family: spectrum set by sigma_8 sqrt(Omega_m), skewness by Omega_m; the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import healpy as hp
import numpy as np
from cosmo_exp import maps, regression
from scipy.stats import skew

RUN = Path(__file__).resolve().parents[1] / "run.py"


def test_family_degeneracy_spectrum_vs_skewness():
    nside, n = 8, 24
    s = maps.S_REF
    # same sigma_8 sqrt(Omega_m), different Omega_m
    params = np.array([[0.34, s / 0.34**0.5]] * n + [[0.24, s / 0.24**0.5]] * n)
    # the same Gaussian seeds (maps 0..n-1) for both cosmologies
    a = regression.family_maps(nside, params[:n], n_channels=1, shape=0.5, seed=0)[..., 0]
    b = regression.family_maps(nside, params[n:], n_channels=1, shape=0.5, seed=0)[..., 0]
    cl = lambda m: np.mean([hp.anafast(hp.reorder(v.astype(float), n2r=True)) for v in m], 0)  # noqa: E731
    ell = slice(2, 2 * nside + 1)
    assert np.max(np.abs(cl(b)[ell] / cl(a)[ell] - 1)) < 0.03
    assert np.mean([skew(v) for v in b]) > 1.15 * np.mean([skew(v) for v in a])
    # the amplitude follows (sigma_8 sqrt(Omega_m))^2
    hi = regression.family_maps(nside, np.array([[0.3, 1.2 * s / 0.3**0.5]] * 4), 1, 0.5, 0)
    lo = regression.family_maps(nside, np.array([[0.3, s / 0.3**0.5]] * 4), 1, 0.5, 0)
    np.testing.assert_allclose(hi.std() / lo.std(), 1.2, rtol=0.02)


def test_regress_cli_quick(tmp_path):
    out = tmp_path / "reg"
    subprocess.run(
        [sys.executable, str(RUN), "regress", "--out", str(out), "--quick"],
        check=True,
        capture_output=True,
    )
    res = json.loads((out / "regression.json").read_text())
    for name in ("deepsphere", "psd_ridge"):
        assert len(res[name]["rmse"]) == 2 and all(np.isfinite(res[name]["rmse"]))
    assert res["n_channels"] == 2
    assert np.asarray(res["predictions"]["deepsphere"]).shape == (res["n_test"], 2)
    assert (out / "regression.png").read_bytes()[:4] == b"\x89PNG"

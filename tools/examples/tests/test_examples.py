"""Every example runs in its quick mode and writes its PNGs; their numerics against references."""

import numpy as np
import pytest
import scipy.sparse.linalg as sla

EXAMPLES = {
    "whole_sphere_classification": ["whole_sphere_maps.png", "whole_sphere_training.png"],
    "multichannel_regression": ["regression_channels.png", "regression_predictions.png"],
    "partial_sky_noise": ["partial_sky_patches.png", "partial_sky_accuracy.png"],
    "spherical_convolution": ["convolution_filters.png", "convolution_heat.png"],
    "laplacian_harmonics": ["laplacian_spectrum.png", "laplacian_alignment.png"],
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_quick_mode_writes_pngs(name, tmp_path):
    module = __import__(name)
    module.main(["--out", str(tmp_path), "--quick"])
    for png in EXAMPLES[name]:
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG", png


def test_chebyshev_heat_diffusion_matches_expm():
    import spherical_convolution as sc

    lap, lmax = sc.graph_operator(4)
    x = np.random.default_rng(0).standard_normal((lap.shape[0], 2))
    t = 5.0 / lmax
    coeffs = sc.chebyshev_coefficients(lambda v: np.exp(-t * v), lmax, 30)
    ref = sla.expm_multiply(-t * lap.tocsc(), x)
    np.testing.assert_allclose(sc.filter_map(x, lap, lmax, coeffs), ref, atol=1e-8)


def test_laplacian_groups_and_alignment():
    import laplacian_harmonics as lh

    lmax = 6
    w, u, coords = lh.spectrum(8, 8, published=True)
    a = lh.alignment(lh.degree_energy(u, coords, lmax))
    assert np.all(a[: lmax + 1] > 0.97), a
    # eigenvalues come in groups of 2l + 1: the gap between groups exceeds the spread inside
    for ell in range(1, lmax):
        group = w[ell**2 : (ell + 1) ** 2]
        assert w[(ell + 1) ** 2] - group[-1] > group[-1] - group[0]
    # the naive width aligns worse at the highest degree checked at nside 16 (see the
    # example's figure); at nside 8, degree 6, both are still close to 1
    _, u2, _ = lh.spectrum(8, 8, published=False)
    a2 = lh.alignment(lh.degree_energy(u2, coords, lmax))
    assert a[lmax] >= a2[lmax] - 1e-3

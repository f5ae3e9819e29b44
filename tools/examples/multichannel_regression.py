"""Regression from multiple spherical maps: (Omega_m, sigma_8) from two channels.

Each sample is a pair of full-sky lognormal maps (two channels, e.g. two tomographic
bins) of one cosmology of a continuous family (``tools/experiments/cosmology``,
``cosmo_exp.regression``). A ``sphere_unet.SphericalClassifier`` with two outputs and
two input channels regresses both parameters; a ridge regressor on the channels'
power spectra is the baseline (the spectrum constrains only ``sigma_8 sqrt(Omega_m)``).
Writes ``regression_channels.png`` and ``regression_predictions.png``.

    python tools/examples/multichannel_regression.py --out DIR [--quick]
"""

from __future__ import annotations

import _common
import healpy as hp
import matplotlib.pyplot as plt
from cosmo_exp import maps, regression


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    cfg = (
        regression.RegressionConfig.quick()
        if args.quick
        else regression.RegressionConfig(nside=16, n_train=300, n_test=100, epochs=25)
    )
    res = regression.run_regression(cfg)
    regression.figure(res, args.out / "regression_predictions.png")
    params = maps.family_params(1, cfg.seed)
    x = regression.family_maps(cfg.nside, params, cfg.n_channels, cfg.shape, cfg.seed)[0]
    fig = plt.figure(figsize=(10, 3.4))
    for c in range(cfg.n_channels):
        hp.mollview(
            x[:, c],
            nest=True,
            fig=fig.number,
            sub=(1, cfg.n_channels, c + 1),
            title=f"channel {c}: Omega_m={params[0, 0]:.3f}, sigma_8={params[0, 1]:.3f}",
        )
    fig.savefig(args.out / "regression_channels.png", dpi=90)
    plt.close(fig)
    return res


if __name__ == "__main__":
    main()

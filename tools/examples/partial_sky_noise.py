"""Classification of a part of the sphere with noise.

Full-sky maps of the two cosmological models are cut into ``12 order**2`` HEALPix
patches (``order = 1``: 12 patches a map of 16 x 16 pixels at nside 16), white Gaussian pixel noise is added
(a fresh draw every epoch for training), and a ``sphere_unet.SphericalClassifier``
on the partial HEALPix sampling of a patch is trained per noise level. Writes
``partial_sky_patches.png`` (a clean and a noisy patch) and ``partial_sky_accuracy.png``
(test accuracy against the relative noise level).

    python tools/examples/partial_sky_noise.py --out DIR [--quick]
"""

from __future__ import annotations

import _common
import matplotlib.pyplot as plt
import numpy as np
from cosmo_exp import data, maps, models


def main(argv: list[str] | None = None) -> dict[float, float]:
    args = _common.parse(__doc__, argv)
    nside, order = (8, 2) if args.quick else (16, 1)
    n_maps, epochs = (6, 1) if args.quick else (40, 10)
    levels = (0.0, 1.0) if args.quick else (0.0, 0.5, 1.0, 2.0)
    split = data.make_split(maps.generate_maps(nside, n_maps, seed=0), nside, order)
    sigma = float(split.x_train.std())
    sampling = data.patch_sampling(nside, order)
    acc = {}
    for level in levels:
        rng = np.random.default_rng(1)
        model = models.deepsphere(
            "fcn",
            sampling,
            k=8,
            depth=models.depth_for(sampling.n_vertices, 8),
            width=16,
            kernel_size=5,
        )
        models.train(
            model,
            split.x_train,
            split.y_train,
            epochs=epochs,
            batch=32,
            augment=lambda x, level=level, rng=rng: data.add_noise(x, level, sigma, rng) / sigma,
        )
        x_te = data.add_noise(split.x_test, level, sigma, np.random.default_rng(2)) / sigma
        acc[level] = float((models.predict(model, x_te).argmax(1) == split.y_test).mean())
        print(f"noise {level:.1f}: test accuracy {100 * acc[level]:.1f} % ({len(x_te)} patches)")

    side = nside // order
    perm = data.zorder_permutation(nside, order)
    patch = split.x_train[0] / sigma
    noisy = data.add_noise(split.x_train[:1], 1.0, sigma, np.random.default_rng(3))[0] / sigma
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
    for ax, img, title in zip(axes, (patch, noisy), ("clean patch", "noise level 1"), strict=True):
        ax.imshow(img[perm].reshape(side, side), cmap="viridis")
        ax.set(title=f"{title} ({side}x{side} pixels)", xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(args.out / "partial_sky_patches.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(list(acc), [100 * a for a in acc.values()], "o-")
    ax.axhline(50, color="grey", lw=0.5)
    ax.set(
        xlabel="relative noise level",
        ylabel="test accuracy (%)",
        ylim=(40, 100),
        title=f"DeepSphere on order-{order} patches (nside {nside})",
    )
    fig.tight_layout()
    fig.savefig(args.out / "partial_sky_accuracy.png", dpi=100)
    plt.close(fig)
    return acc


if __name__ == "__main__":
    main()

"""Classification of data on the whole sphere: which cosmology produced a full-sky map?

Full-sky maps of the two cosmological models of the cosmology experiment (same power
spectrum, different non-Gaussianity; ``tools/experiments/cosmology``) are classified
by a ``sphere_unet.SphericalClassifier`` (Chebyshev graph convolutions on a HEALPix
k-NN graph, pooling, global average pooling). Writes ``whole_sphere_maps.png`` (a map
of each class) and ``whole_sphere_training.png`` (loss and test accuracy per epoch).

    python tools/examples/whole_sphere_classification.py --out DIR [--quick]
"""

from __future__ import annotations

import _common
import healpy as hp
import matplotlib.pyplot as plt
import numpy as np
import sphere_graphs as sg
import torch
from cosmo_exp import maps
from sphere_unet import SphericalClassifier
from torch import nn


def main(argv: list[str] | None = None) -> float:
    args = _common.parse(__doc__, argv)
    torch.set_num_threads(1)
    nside, n_maps, epochs = (8, 16, 2) if args.quick else (16, 160, 12)
    data = maps.generate_maps(nside, n_maps, seed=0)
    names = [c.name for c in maps.CLASSES]
    x = np.concatenate([data[n] for n in names])[..., None] / maps.SIGMA_KAPPA
    y = np.repeat(np.arange(2), n_maps)
    test = np.arange(len(y)) % 4 == 0  # a quarter of the maps (both classes) for testing
    x_tr, y_tr = torch.as_tensor(x[~test]), torch.as_tensor(y[~test])
    x_te, y_te = torch.as_tensor(x[test]), torch.as_tensor(y[test])

    torch.manual_seed(0)
    sampling = sg.healpix(nside, nest=True)
    model = SphericalClassifier(
        sampling, 1, 2, depth=2, k=8, kernel_size=5, channels=[[16], [32], [32]]
    )
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = epochs * -(-int((~test).sum()) // 16)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    losses, accs = [], []
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(y_tr))
        total = 0.0
        for s in range(0, len(perm), 16):
            idx = perm[s : s + 16]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(perm))
        model.eval()
        with torch.no_grad():
            accs.append(float((model(x_te).argmax(1) == y_te).float().mean()))
        print(
            f"epoch {len(losses):2d}: loss {losses[-1]:.3f}, test accuracy {100 * accs[-1]:.1f} %"
        )

    fig = plt.figure(figsize=(10, 3.4))
    for i, c in enumerate(maps.CLASSES):
        hp.mollview(
            data[c.name][0],
            nest=True,
            fig=fig.number,
            sub=(1, 2, i + 1),
            title=f"{c.name}: Omega_m={c.omega_m}, sigma_8={c.sigma_8} (map 0)",
        )
    fig.savefig(args.out / "whole_sphere_maps.png", dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    ax[0].plot(range(1, epochs + 1), losses, "o-")
    ax[0].set(xlabel="epoch", ylabel="training loss")
    ax[1].plot(range(1, epochs + 1), [100 * a for a in accs], "o-")
    ax[1].axhline(50, color="grey", lw=0.5)
    ax[1].set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(0, 100))
    fig.tight_layout()
    fig.savefig(args.out / "whole_sphere_training.png", dpi=100)
    plt.close(fig)
    return accs[-1]


if __name__ == "__main__":
    main()

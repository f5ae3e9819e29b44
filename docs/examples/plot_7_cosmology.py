"""
The cosmology experiment: accuracy against noise
================================================

The offline cosmology experiment (``tools/experiments/cosmology``, see its README)
classifies partial-sky patches of lognormal convergence-like maps from two models with
matched power spectra. Its default run writes ``results.json``: one record per method,
graph size ``k``, patch order and noise level. This page redraws the stored results of
that run (training them again takes about 25 minutes, too long for a docs build):
DeepSphere (fully convolutional and CNN variants) against a 2-D CNN and SVMs on pixel
histograms and on power spectral densities. The PSD baseline stays near chance, as it
must when the spectra are matched.
"""

import json
from pathlib import Path

import matplotlib.pyplot as plt


def find_results() -> Path:
    """``tools/experiments/cosmology/results/results.json`` of this repository."""
    for base in [Path.cwd(), *Path.cwd().parents]:
        path = base / "tools" / "experiments" / "cosmology" / "results" / "results.json"
        if path.is_file():
            return path
    raise FileNotFoundError("run the docs build inside the repository (results.json not found)")


records = json.loads(find_results().read_text())
orders = sorted({r["order"] for r in records})
fig, axes = plt.subplots(1, len(orders), figsize=(4 * len(orders), 3.4), sharey=True)
for ax, order in zip(axes, orders, strict=True):
    curves: dict[str, list[tuple[float, float]]] = {}
    for r in records:
        if r["order"] != order or r.get("k") not in (None, 8):  # DeepSphere: the k = 8 graph
            continue
        curves.setdefault(r["method"], []).append((r["noise"], 100 * r["accuracy"]))
    for method, points in sorted(curves.items()):
        noise, accuracy = zip(*sorted(points), strict=True)
        ax.plot(noise, accuracy, marker="o", label=method)
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    ax.set_title(f"order {order} ({12 * order**2} patches per map)", fontsize=9)
    ax.set_xlabel("relative noise level")
axes[0].set_ylabel("test accuracy (%)")
axes[-1].legend(fontsize=7)
fig.tight_layout()
plt.show()

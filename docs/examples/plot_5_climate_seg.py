"""
climate-seg walkthrough on synthetic data
=========================================

``climate-seg`` segments tropical cyclones (TC) and atmospheric rivers (AR) in CAM5
climate simulations stored on an icosahedral mesh (10242 vertices, 16 channels).
The real archive is about 30 GB; ``climate_seg.data.synthesize`` writes synthetic
frames in exactly its file format, with physically plausible fields and labels
computed by detection rules. This example synthesises a few frames, trains a small
spherical U-Net for a few epochs (about 20 s on two CPU cores), and draws the
predictions. ``climate-seg demo`` does the same at full resolution.
"""

import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from climate_seg import load_config, train
from climate_seg.data import CHANNELS, read_sample, synthesize
from climate_seg.predict import load_model, predict_files

work = Path(tempfile.mkdtemp(prefix="climate-seg-example-"))

# %%
# Synthetic data
# --------------
# Each file holds ``data (16, V)`` in physical units and one-hot ``labels (3, V)``.
files = synthesize(work / "data", n_samples=120, seed=0)
data, labels = read_sample(files[0])  # (16, V) float32, (V,) class per vertex
print(len(files), "files, e.g.", files[0].name, data.shape, labels.shape)
for name, fraction in zip(
    ("background", "TC", "AR"), np.bincount(labels, minlength=3) / labels.size, strict=True
):
    print(f"{name}: {100 * fraction:.2f} % of the vertices")

# %%
# Training
# --------
# The same configuration object as ``climate-seg train`` (every option of the
# command line is a field). The model runs on the files' own mesh (icosahedral
# level 5); another ``sampling`` or ``resolution`` resamples the fields to that grid
# and maps the predictions back to the mesh.
config = load_config(
    None,
    data=str(work / "data"),
    out=str(work / "run"),
    sampling="icosahedral",
    resolution=5,
    preset="small",
    width_scale=1.0,
    epochs=8,
    batch_size=8,
    lr=3e-3,
    class_weights="1,20,2",
    seed=0,
)
run = train(config)
metrics = json.loads((run / "test_metrics.json").read_text())
print({k: v for k, v in metrics.items() if isinstance(v, (int, float))})

# %%
# Predictions on the sphere
# -------------------------
# ``predict_files`` maps the model's output back to the mesh: one file per frame
# with ``labels (V,)`` and ``probabilities (3, V)``.
model = load_model(run)
(work / "pred").mkdir()
pred_file = predict_files(model, [files[-1]], work / "pred")[0]
with np.load(pred_file) as z:
    predicted = z["labels"]
with np.load(files[-1]) as z:
    data, truth = z["data"], z["labels"].argmax(axis=0)

from sphere_graphs import icosahedral  # noqa: E402  (the mesh of the files)

mesh = icosahedral(5)
lon = np.mod(mesh.lon + np.pi, 2 * np.pi) - np.pi
colours = np.array([[0.92, 0.92, 0.92], [0.85, 0.1, 0.1], [0.1, 0.3, 0.85]])
fig, axes = plt.subplots(1, 3, figsize=(11, 2.8), subplot_kw={"projection": "mollweide"})
tmq = data[CHANNELS.index("TMQ")]
axes[0].scatter(lon, mesh.lat, c=tmq, s=3, cmap="viridis", linewidths=0)
axes[0].set_title("TMQ (integrated water vapour)", fontsize=9)
for ax, labels, title in ((axes[1], truth, "labels"), (axes[2], predicted, "prediction")):
    ax.scatter(lon, mesh.lat, c=colours[labels], s=3, linewidths=0)
    ax.set_title(f"{title}: TC red, AR blue", fontsize=9)
for ax in axes:
    ax.set_xticklabels([])
    ax.set_yticklabels([])
fig.tight_layout()
plt.show()

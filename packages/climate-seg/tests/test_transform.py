"""The mesh <-> grid transform (MeshGrid) and GridDataset, against dense numpy references.

Files hold smooth analytic fields of the mesh coordinates and random labels; the resampled
fields are compared with the same functions evaluated at the grid points (linear
interpolation error on a level-5 mesh), labels and probabilities with brute-force nearest
neighbours (dense dot products).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import torch
from climate_seg.data import CAM5Dataset, format_name
from climate_seg.models import data_mesh, sampling_for
from climate_seg.transform import GridDataset, MeshGrid

V, C = 10242, 16
TOL = 2e-3  # linear interpolation on the level-5 mesh; nearest-neighbour errors are ~1e-2


def smooth(p: np.ndarray) -> np.ndarray:
    """16 smooth fields of unit vectors ``p (N, 3)``, shape (N, 16)."""
    x, y, z = p.T
    cols = [x, y, z, x * y, y * z, z * x, x * x - y * y, np.sin(2 * x), np.cos(2 * z), z**3]
    cols += [np.exp(0.5 * y), x + 2 * y - z, 1 + 0 * x, np.sin(x + y), x * y * z, np.cos(y)]
    return np.stack(cols, axis=1)


def nearest(targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Index into ``sources`` of the nearest point of every target (dense great-circle)."""
    return np.argmax(targets @ sources.T, axis=1)


def assert_nearest_copy(got, values, targets: np.ndarray, sources: np.ndarray) -> None:
    """``got[i]`` is ``values[k]`` for a source ``k`` nearest to target ``i`` (ties allowed).

    ``got`` has one row per target, ``values`` one row per source. Grids and the
    icosahedral mesh share symmetry planes, so some targets are equally far (to 1e-15)
    from two sources; either is right.
    """
    got, values = np.asarray(got), np.asarray(values)
    dots = targets @ sources.T
    close = dots >= dots.max(axis=1, keepdims=True) - 1e-12
    same = (got[:, None] == values[None]).reshape(len(got), len(values), -1).all(axis=2)
    missing = np.nonzero(~(close & same).any(axis=1))[0]
    assert len(missing) == 0, f"{len(missing)} targets are not copies of a nearest source"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mesh")
    mesh = data_mesh(V)
    rng = np.random.default_rng(5)
    out = []
    start = dt.datetime(2106, 1, 1)
    for k in range(3):
        t = start + dt.timedelta(hours=3 * k)
        data = (smooth(mesh.coords) * (1 + k)).T.astype(np.float32)  # (16, V)
        labels = rng.integers(0, 3, V)
        path = folder / format_name(t.date(), t.hour // 3, 1)
        np.savez(path, data=data, labels=np.eye(3, dtype=np.float32)[:, labels])
        out.append(path)
    return out


@pytest.mark.parametrize(("kind", "res"), [("healpix", 8), ("equiangular", 16)])
def test_grid_dataset_resamples_fields_linearly_and_labels_to_the_nearest_vertex(files, kind, res):
    mesh, grid = data_mesh(V), sampling_for(kind, res)
    transform = MeshGrid.between(mesh, grid)
    assert not transform.identity
    base = CAM5Dataset(files, stats=None)
    ds = GridDataset(base, transform)
    assert len(ds) == len(files) and ds.files == base.files
    pick = nearest(grid.coords, mesh.coords)
    for i in range(len(ds)):
        x, y, y_mesh = ds[i]
        assert x.shape == (grid.n_vertices, C) and x.dtype == torch.float32
        assert y.shape == (grid.n_vertices,) and y.dtype == torch.int64
        assert torch.equal(y_mesh, base[i][1])
        expected = smooth(grid.coords) * (1 + i)
        err = np.abs(x.numpy() - expected).max()
        assert err < TOL * (1 + i), (kind, i, err)
        # the test can fail: picking the nearest vertex instead of interpolating is ~10x off
        assert np.abs(smooth(mesh.coords)[pick] * (1 + i) - expected).max() > 5 * TOL * (1 + i)
        assert_nearest_copy(y.numpy(), y_mesh.numpy(), grid.coords, mesh.coords)


def test_meshgrid_maps_probabilities_back_to_the_nearest_grid_point():
    mesh, grid = data_mesh(V), sampling_for("healpix", 8)
    transform = MeshGrid.between(mesh, grid)
    probs = torch.rand(2, grid.n_vertices, 3)
    back = transform.to_mesh(probs)
    assert back.shape == (2, V, 3)
    for b in range(2):
        assert_nearest_copy(back[b].numpy(), probs[b].numpy(), mesh.coords, grid.coords)
    single = transform.to_mesh(probs[0])
    torch.testing.assert_close(single, back[0])
    values = np.linspace(0.0, 1.0, V)
    np.testing.assert_allclose(transform.values_to_grid(values), transform.fields @ values)


def test_grid_dataset_sequences_and_identity(files):
    mesh, grid = data_mesh(V), sampling_for("equiangular", 16)
    base = CAM5Dataset(files, stats=None, seq_len=2)
    ds = GridDataset(base, MeshGrid.between(mesh, grid))
    x, y, y_mesh = ds[0]
    assert x.shape == (2, grid.n_vertices, C)
    frames = GridDataset(CAM5Dataset(files, stats=None), MeshGrid.between(mesh, grid))
    for t in range(2):
        torch.testing.assert_close(x[t], frames[t][0])
    assert torch.equal(y, frames[1][1]) and torch.equal(y_mesh, frames[1][2])

    same = MeshGrid.between(mesh, sampling_for("icosahedral", 5))
    assert same.identity
    plain = CAM5Dataset(files)
    xi, yi, yi_mesh = GridDataset(plain, same)[1]
    assert torch.equal(xi, plain[1][0]) and torch.equal(yi, plain[1][1])
    assert torch.equal(yi_mesh, yi)
    probs = torch.rand(1, V, 3)
    assert same.to_mesh(probs) is probs


def test_cam5dataset_no_longer_resamples(files):
    import climate_seg.data as data

    assert "mesh_resampling" not in data.__all__
    with pytest.raises(TypeError, match="resample"):
        CAM5Dataset(files, resample=None)  # type: ignore[call-arg]

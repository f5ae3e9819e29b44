"""Input checks of 0.2: samplings, SphereGraph invariants, Laplacian, I/O, coordinate helpers."""

import numpy as np
import pytest
import scipy.sparse as sp
import sphere_graphs as sg


def test_point_samplings_refuse_zero_and_non_unit_vectors():
    coords = sg.healpix(2).coords
    with pytest.raises(ValueError, match="unit vectors"):
        sg.PointSampling(2 * coords)
    bad = coords.copy()
    bad[3] = 0.0
    with pytest.raises(ValueError, match="zero vector"):
        sg.PointSampling(bad)
    sg.PointSampling(coords)  # unit vectors pass


def test_sphere_graph_enforces_its_invariants():
    s = sg.healpix(1)
    w = sg.knn_graph(s, 3).adjacency
    sg.SphereGraph(s, w)
    asym = w.tolil()
    asym[0, asym.rows[0][0]] *= 2
    with pytest.raises(ValueError, match="symmetric"):
        sg.SphereGraph(s, asym.tocsr())
    with pytest.raises(ValueError, match="negative"):
        sg.SphereGraph(s, -w)
    with pytest.raises(ValueError, match="self loops"):
        sg.SphereGraph(s, w + sp.eye(12))
    nan = w.copy()
    nan.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sg.SphereGraph(s, nan)


def test_normalized_laplacian_refuses_negative_weights():
    w = sp.csr_matrix(np.array([[0.0, -1.0], [-1.0, 0.0]]))
    with pytest.raises(ValueError, match="non-negative"):
        sg.laplacian(w, "normalized")
    np.testing.assert_allclose(sg.laplacian(w).toarray(), [[-1, 1], [1, -1]])


def test_save_and_load_agree_on_suffix_and_refuse_foreign_files(tmp_path):
    g = sg.knn_graph(sg.healpix(2), 8)
    g.save(tmp_path / "g")
    assert (tmp_path / "g.npz").exists()
    back = sg.SphereGraph.load(tmp_path / "g")
    assert (back.adjacency != g.adjacency).nnz == 0
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="lacks header"):
        sg.SphereGraph.load(tmp_path / "other.npz")
    np.save(tmp_path / "arr.npy", np.zeros(3))
    with pytest.raises(ValueError, match="not a SphereGraph file"):
        sg.SphereGraph.load(tmp_path / "arr.npy.npz") if False else _load_npy(tmp_path)
    with pytest.raises(FileNotFoundError):
        sg.SphereGraph.load(tmp_path / "missing")


def _load_npy(tmp_path):
    (tmp_path / "arr.npz").write_bytes((tmp_path / "arr.npy").read_bytes())
    return sg.SphereGraph.load(tmp_path / "arr.npz")


def test_coordinate_helpers_shape_errors():
    with pytest.raises(ValueError, match="same shape"):
        sg.lonlat_to_xyz(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        sg.xyz_to_lonlat(np.zeros((3, 5)))
    lon, lat = sg.xyz_to_lonlat(sg.lonlat_to_xyz(np.array([0.5]), np.array([0.25])))
    np.testing.assert_allclose([lon[0], lat[0]], [0.5, 0.25])

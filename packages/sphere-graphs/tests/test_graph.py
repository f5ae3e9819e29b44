import numpy as np
import pytest
import scipy.sparse as sp
import sphere_graphs as sg


def _check_graph(g):
    A = g.adjacency
    assert sp.isspmatrix_csr(A) and A.dtype == np.float64
    assert A.shape == (g.n_vertices, g.n_vertices)
    assert abs(A - A.T).max() == 0
    assert not A.diagonal().any()
    assert np.all(A.data > 0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: sg.knn_graph(sg.healpix(4), 8),
        lambda: sg.knn_graph(sg.healpix(4, nest=False, indices=np.arange(10, 60)), 6),
        lambda: sg.mesh_graph(sg.icosahedral(2)),
        lambda: sg.mesh_graph(sg.equiangular(6, 12, poles=2)),
        lambda: sg.knn_graph(sg.gauss_legendre(6), 8),
        lambda: sg.knn_graph(sg.cubed_sphere(3), 8),
        lambda: sg.radius_graph(
            sg.PointSampling(sg.lonlat_to_xyz(np.arange(20.0), np.linspace(-1, 1, 20))), 0.8
        ),
    ],
)
def test_save_load_roundtrip(tmp_path, make):
    g = make()
    _check_graph(g)
    path = tmp_path / "graph.npz"
    g.save(path)
    h = sg.SphereGraph.load(path)
    assert type(h.sampling) is type(g.sampling)
    np.testing.assert_array_equal(h.coords, g.coords)
    assert (h.adjacency != g.adjacency).nnz == 0
    assert h.kind == g.kind and h.params == g.params
    for name in ("nside", "nest", "level", "nlat", "nlon", "poles", "n"):
        if hasattr(g.sampling, name):
            assert getattr(h.sampling, name) == getattr(g.sampling, name)
    if isinstance(g.sampling, sg.HealpixSampling) and g.sampling.indices is not None:
        np.testing.assert_array_equal(h.sampling.indices, g.sampling.indices)
    if isinstance(g.sampling, sg.IcosahedralSampling):
        np.testing.assert_array_equal(h.sampling.faces, g.sampling.faces)


def test_properties_and_laplacian_method():
    s = sg.healpix(2)
    g = sg.knn_graph(s, 8)
    assert g.n_vertices == 48 == len(g)
    assert g.coords is s.coords
    L = g.laplacian()
    np.testing.assert_allclose(L.toarray(), np.diag(g.degree()) - g.adjacency.toarray(), atol=1e-15)
    np.testing.assert_allclose(g.laplacian("normalized").diagonal(), 1.0)
    assert g.n_edges == g.adjacency.nnz // 2
    with pytest.raises(ValueError, match="normalized"):
        g.laplacian("sym")


def test_constructor_validation():
    s = sg.healpix(1)
    with pytest.raises(ValueError, match="12 vertices"):
        sg.SphereGraph(s, sp.csr_matrix((5, 5)))
    with pytest.raises(TypeError, match=r"scipy\.sparse"):
        sg.SphereGraph(s, np.zeros((12, 12)))
    g = sg.SphereGraph(s, sp.coo_matrix(np.zeros((12, 12), dtype=np.float32)))
    assert sp.isspmatrix_csr(g.adjacency) and g.adjacency.dtype == np.float64


def test_to_pygsp_clear_error_or_graph():
    g = sg.knn_graph(sg.healpix(2), 8)
    try:
        import pygsp  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pygsp"):
            g.to_pygsp()
    else:
        G = g.to_pygsp()
        assert G.N == g.n_vertices

"""Shapes, presets, errors and state_dict of the models."""

import numpy as np
import pytest
import sphere_graphs as sg
import sphere_unet as su
import torch

SAMPLINGS = {
    "healpix": lambda: sg.healpix(4),
    "healpix_partial": lambda: sg.healpix(8, indices=np.arange(4 * 64)),
    "icosahedral": lambda: sg.icosahedral(2),
    "equiangular": lambda: sg.equiangular(16, 32),
}


@pytest.mark.parametrize("name", list(SAMPLINGS))
@pytest.mark.parametrize(
    "graph,pool,lap", [("knn", "avg", "combinatorial"), ("knn", "max", "normalized")]
)
def test_unet_shapes(name, graph, pool, lap):
    s = SAMPLINGS[name]()
    m = su.SphericalUNet(
        s, 3, 4, depth=2, width=4, graph=graph, pool=pool, laplacian=lap, dropout=0.1
    )
    x = torch.randn(2, s.n_vertices, 3, requires_grad=True)
    y = m(x)
    assert y.shape == (2, s.n_vertices, 4)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    m.eval()
    with torch.inference_mode():
        assert m(x.detach()).shape == (2, s.n_vertices, 4)


def test_mesh_graph_icosahedral():
    s = sg.icosahedral(2)
    m = su.SphericalUNet(s, 2, 3, depth=2, width=4, graph="mesh", kernel_size=4)
    assert m(torch.randn(1, s.n_vertices, 2)).shape == (1, s.n_vertices, 3)


def test_custom_hierarchy():
    s = sg.healpix(4)
    h = sg.hierarchy(s, 2)
    m = su.SphericalUNet(s, 2, 3, depth=2, width=4, coarsenings=h)
    assert m.stack.vertices == [192, 48, 12]


@pytest.mark.parametrize("name", list(SAMPLINGS))
def test_temporal_and_classifier_shapes(name):
    s = SAMPLINGS[name]()
    V = s.n_vertices
    x = torch.randn(2, 3, V, 2)
    stack = su.FrameStackUNet(s, 2, 3, depth=2, width=4, n_frames=3)
    assert stack(x).shape == (2, V, 3)
    lstm = su.ConvLSTMUNet(s, 2, 3, depth=2, width=4)
    y = lstm(x)
    assert y.shape == (2, V, 3)
    y.sum().backward()
    assert lstm.lstm.gates.weight.grad is not None
    clf = su.SphericalClassifier(s, 2, 5, depth=2, channels=[[4], [8], [8]])
    assert clf(torch.randn(2, V, 2)).shape == (2, 5)


def test_preset_parameter_count():
    m = su.deepsphere_artc("icosahedral", kernel_size=3)
    n = sum(p.numel() for p in m.parameters())
    assert n == 5_763_491
    assert abs(n - 5.76e6) < 0.01e6


@pytest.mark.parametrize(
    "sampling,V", [("icosahedral", 10242), ("healpix", 12288), ("equiangular", 8192)]
)
def test_preset_builds_on_every_sampling(sampling, V):
    m = su.deepsphere_artc(sampling)
    assert m.stack.vertices[0] == V and len(m.stack.vertices) == 6
    m.eval()
    with torch.inference_mode():
        assert m(torch.randn(1, V, 16)).shape == (1, V, 3)


def test_preset_temporal_variants():
    for mode in ("stack", "lstm"):
        m = su.deepsphere_artc_temporal("healpix", n_frames=2, mode=mode).eval()
        with torch.inference_mode():
            assert m(torch.randn(1, 2, 12288, 16)).shape == (1, 12288, 3)


def test_state_dict_round_trip_strict():
    s = sg.healpix(4)
    a = su.ConvLSTMUNet(s, 2, 3, depth=2, width=4)
    sd = a.state_dict()
    assert not any(k.startswith("stack.") for k in sd), "operators must be non-persistent"
    b = su.ConvLSTMUNet(s, 2, 3, depth=2, width=4)
    b.load_state_dict(sd, strict=True)
    a.eval()
    b.eval()
    x = torch.randn(1, 2, s.n_vertices, 2)
    torch.testing.assert_close(a(x), b(x))
    names = {n for n, _ in a.named_buffers()}
    assert any(n.startswith("stack.operators.0.") for n in names)


def test_to_dtype_moves_operators():
    s = sg.healpix(2)
    m = su.SphericalUNet(s, 2, 3, depth=1, width=4).double()
    assert m(torch.randn(1, s.n_vertices, 2, dtype=torch.float64)).dtype == torch.float64


def test_errors():
    s = sg.healpix(4)
    m = su.SphericalUNet(s, 3, 2, depth=2, width=4)
    with pytest.raises(ValueError, match="vertices"):
        m(torch.randn(1, 100, 3))
    with pytest.raises(ValueError, match="channels"):
        m(torch.randn(1, s.n_vertices, 5))
    with pytest.raises(ValueError, match="shape"):
        m(torch.randn(s.n_vertices, 3))
    with pytest.raises(TypeError):
        m(np.zeros((1, s.n_vertices, 3)))
    with pytest.raises(ValueError, match="depth=3 is too large"):
        su.SphericalUNet(sg.healpix(2), 3, 2, depth=3)
    with pytest.raises(ValueError, match="depth"):
        su.SphericalUNet(sg.equiangular(4, 8), 3, 2, depth=4)
    with pytest.raises(ValueError, match="graph"):
        su.SphericalUNet(s, 3, 2, depth=1, graph="bogus")
    with pytest.raises(ValueError, match="pool"):
        su.SphericalUNet(s, 3, 2, depth=1, pool="median")
    with pytest.raises(ValueError, match="level"):
        su.deepsphere_artc("icosahedral", resolution=3)
    with pytest.raises(ValueError, match="sampling"):
        su.deepsphere_artc("cubed")
    with pytest.raises(ValueError, match="frames"):
        su.FrameStackUNet(s, 2, 2, depth=1, width=4, n_frames=2)(torch.randn(1, 3, s.n_vertices, 2))


def test_ddp_single_process(tmp_path):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    if not dist.is_available():
        pytest.skip("torch.distributed unavailable")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        s = sg.healpix(2)
        m = DDP(su.SphericalUNet(s, 2, 3, depth=1, width=4))
        m(torch.randn(2, s.n_vertices, 2)).sum().backward()
        assert all(p.grad is not None for p in m.parameters())
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("sampling", [lambda: sg.healpix(2), lambda: sg.icosahedral(2)])
def test_deepcopy_and_pickle(sampling):
    import copy
    import pickle

    s = sampling()
    m = su.SphericalUNet(s, 2, 3, depth=1, width=4).eval()
    x = torch.randn(1, s.n_vertices, 2)
    y = m(x)  # fills the operator caches (weights; sparse pooling operators off HEALPix)
    torch.testing.assert_close(copy.deepcopy(m)(x), y)
    torch.testing.assert_close(pickle.loads(pickle.dumps(m))(x), y)


@pytest.mark.parametrize("k", [0, -1, 48, 5000])
def test_k_outside_range_raises(k):
    """k must satisfy 1 <= k < V on every level (HEALPix nside 4, depth 1: V = 192, 48); no clamping."""
    with pytest.raises(ValueError, match=f"k={k} needs 1 <= k < V"):
        su.SphericalUNet(sg.healpix(4), 1, 2, depth=1, k=k)
    with pytest.raises(ValueError, match=f"k={k}"):
        su.SphericalUNet(
            sg.healpix(4), 1, 2, depth=1, k=k, coarsenings=sg.hierarchy(sg.healpix(4), 1)
        )
    assert su.SphericalUNet(sg.healpix(4), 1, 2, depth=1, k=47).stack.vertices == [192, 48]


def test_input_dtype_and_device_errors_name_the_model():
    s = sg.healpix(2)
    m = su.SphericalUNet(s, 2, 3, depth=1, width=4)
    with pytest.raises(
        TypeError, match=r"input dtype torch.float64 differs from the model's torch.float32"
    ):
        m(torch.randn(1, s.n_vertices, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"model's torch\.float64"):
        m.double()(torch.randn(1, s.n_vertices, 2))
    with pytest.raises(TypeError, match=r"torch\.int64"):
        su.SphericalClassifier(s, 2, 3, depth=1)(torch.ones(1, s.n_vertices, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="dtype"):
        su.ConvLSTMUNet(s, 2, 3, depth=1, width=4)(
            torch.randn(1, 2, s.n_vertices, 2, dtype=torch.float16)
        )
    meta = torch.randn(1, s.n_vertices, 2, device="meta")
    with pytest.raises(ValueError, match="input is on meta but the model is on cpu"):
        su.SphericalUNet(s, 2, 3, depth=1, width=4)(meta)


def test_depth_errors_name_the_cause():
    with pytest.raises(ValueError, match="NESTED"):
        su.SphericalUNet(sg.healpix(4, nest=False), 1, 2, depth=2)
    v = np.random.default_rng(0).normal(size=(60, 3))
    cloud = sg.PointSampling(v / np.linalg.norm(v, axis=1, keepdims=True))
    with pytest.raises(ValueError, match="no pooling hierarchy for PointSampling"):
        su.SphericalUNet(cloud, 1, 2, depth=1)
    with pytest.raises(ValueError, match="healpix_closure"):
        su.SphericalUNet(sg.healpix(8, indices=np.arange(10)), 1, 2, depth=1)
    assert su.SphericalClassifier(cloud, 1, 2, depth=0, channels=[[4]])(
        torch.randn(1, 60, 1)
    ).shape == (1, 2)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(depth=0), ValueError, "depth must be >= 1"),
        (dict(depth=-1), ValueError, "depth must be >= 1"),
        (dict(depth=1.0), TypeError, "depth must be an integer"),
        (dict(dropout=1.0), ValueError, "dropout"),
        (dict(dropout=-0.1), ValueError, "dropout"),
        (dict(dropout=True), ValueError, "dropout"),
        (dict(K=2.5), TypeError, "K"),
        (dict(kernel_size=3.0), TypeError, "K"),
        (dict(K=0), ValueError, "K"),
        (dict(width=8.0), TypeError, "width"),
    ],
)
def test_constructor_checks(kwargs, error, match):
    with pytest.raises(error, match=match):
        su.SphericalUNet(sg.healpix(2), 1, 2, **{"depth": 1, **kwargs})


def test_constructor_checks_of_the_other_models():
    s = sg.healpix(2)
    with pytest.raises(TypeError, match="n_frames"):
        su.FrameStackUNet(s, 1, 2, depth=1, n_frames=2.0)
    with pytest.raises(ValueError, match="n_frames"):
        su.FrameStackUNet(s, 1, 2, depth=1, n_frames=0)
    with pytest.raises(TypeError, match="n_frames"):
        su.deepsphere_artc_temporal("healpix", n_frames=1.5, mode="stack")
    with pytest.raises(TypeError, match="resolution"):
        su.deepsphere_artc("healpix", resolution=32.0)
    with pytest.raises(ValueError, match="resolution"):
        su.deepsphere_artc(sg.healpix(32), resolution=32)
    with pytest.raises(ValueError, match="dropout"):
        su.SphericalClassifier(s, 1, 2, depth=1, dropout=1.5)
    with pytest.raises(ValueError, match="dropout"):
        su.ChebBlock(2, 3, 3, dropout=2)
    with pytest.raises(TypeError, match="K"):
        su.GraphConvLSTMCell(2, 3, kernel_size=2.0)


def test_public_surface_is_the_documented_one():
    """Internals (levels, stack, pooling adapter, order resolution) are not exported."""
    assert set(su.__all__) == {
        "ARTC_DECODER",
        "ARTC_ENCODER",
        "ChebBlock",
        "ConvLSTMUNet",
        "FrameStackUNet",
        "GraphConvLSTMCell",
        "SphericalClassifier",
        "SphericalUNet",
        "__version__",
        "artc_sampling",
        "deepsphere_artc",
        "deepsphere_artc_temporal",
        "default_channels",
    }
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert all(f"`{name}" in readme for name in su.__all__ if name != "__version__")


def test_ready_graph_hierarchy_as_levels():
    """levels= takes a sphere_graphs.graph_hierarchy (here with ARPACK's lmax)."""
    s = sg.healpix(4)
    h = sg.graph_hierarchy(s, 2, lmax="arpack")
    m = su.SphericalUNet(s, 2, 3, depth=2, width=4, levels=h)
    assert m.stack.vertices == [192, 48, 12]
    default = su.SphericalUNet(s, 2, 3, depth=2, width=4)
    assert h[0].lmax < sg.graph_hierarchy(s, 2)[0].lmax  # the bound is above the eigenvalue
    dense = [mod.stack.operators[0].to_sparse_csr().to_dense().double() for mod in (m, default)]
    assert not torch.allclose(*dense, atol=1e-3)
    with pytest.raises(ValueError, match=r"depth \+ 1 = 2"):
        su.SphericalUNet(s, 2, 3, depth=1, levels=h)


def test_preset_equiangular_uses_k7():
    m = su.deepsphere_artc("equiangular")
    assert m.stack.vertices[-1] == 8
    with pytest.raises(ValueError, match="k=8 needs 1 <= k < V"):
        su.deepsphere_artc("equiangular", k=8)


def test_classifier_flatten_readout_keeps_the_vertices():
    s = sg.healpix(4)
    torch.manual_seed(0)
    flat = su.SphericalClassifier(s, 2, 3, depth=1, channels=[[4], [6]], readout="flatten")
    mean = su.SphericalClassifier(s, 2, 3, depth=1, channels=[[4], [6]])
    mean.blocks.load_state_dict(flat.blocks.state_dict())
    flat.eval(), mean.eval()
    x = torch.randn(2, s.n_vertices, 2)
    v_last = flat.stack.vertices[-1]
    assert flat.head.in_features == v_last * 6 and mean.head.in_features == 6
    feats = flat.features(x)
    assert feats.shape == (2, v_last * 6)
    # vertex-major flattening: averaging over the vertices gives the mean read-out
    torch.testing.assert_close(feats.reshape(2, v_last, 6).mean(1), mean.features(x))
    assert flat(x).shape == (2, 3)
    with pytest.raises(ValueError, match="readout"):
        su.SphericalClassifier(s, 2, 3, depth=1, readout="max")

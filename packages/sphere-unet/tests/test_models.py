"""Shapes, presets, errors and state_dict of the models."""

import numpy as np
import pytest
import sphere_graphs as sg
import sphere_unet as su
import torch

SAMPLINGS = {
    "healpix": lambda: sg.healpix(4),
    "healpix_partial": lambda: sg.healpix(8, indices=np.arange(2 * 64)),
    "icosahedral": lambda: sg.icosahedral(2),
    "equiangular": lambda: sg.equiangular(8, 16),
}


@pytest.mark.parametrize("name", list(SAMPLINGS))
@pytest.mark.parametrize("graph,pool,lap", [("knn", "avg", "combinatorial"), ("knn", "max", "normalized")])
def test_unet_shapes(name, graph, pool, lap):
    s = SAMPLINGS[name]()
    m = su.SphericalUNet(s, 3, 4, depth=2, width=4, graph=graph, pool=pool, laplacian=lap, dropout=0.1)
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


@pytest.mark.parametrize("sampling,V", [("icosahedral", 10242), ("healpix", 12288), ("equiangular", 8192)])
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
    with pytest.raises(ValueError, match="depth"):
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


def test_deepcopy_and_pickle():
    import copy
    import pickle

    s = sg.healpix(2)
    m = su.SphericalUNet(s, 2, 3, depth=1, width=4).eval()
    x = torch.randn(1, s.n_vertices, 2)
    y = m(x)  # fills the operator cache
    torch.testing.assert_close(copy.deepcopy(m)(x), y)
    torch.testing.assert_close(pickle.loads(pickle.dumps(m))(x), y)

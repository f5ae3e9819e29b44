"""Learning and equivariance."""

import numpy as np
import pytest
import sphere_graphs as sg
import sphere_graphs.testing as sgt
import sphere_unet as su
import torch
import torch.nn.functional as F
from sphere_unet import testing


def test_overfits_tiny_segmentation():
    s = sg.healpix(4)
    x, y = testing.synthetic_segmentation(s, n_samples=2, in_channels=2, n_classes=3)
    m = su.SphericalUNet(s, 2, 3, depth=2, width=8)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(80):
        opt.zero_grad()
        loss = F.cross_entropy(m(x).reshape(-1, 3), y.reshape(-1))
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    m.eval()
    with torch.no_grad():
        acc = (m(x).argmax(-1) == y).float().mean()
    assert acc > 0.97


def test_classifier_learns():
    s = sg.healpix(2)
    x = torch.randn(8, s.n_vertices, 1)
    t = torch.arange(8) % 2
    x[t == 1] += 1.0
    clf = su.SphericalClassifier(s, 1, 2, depth=1, channels=[[8], [8]])
    opt = torch.optim.Adam(clf.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        loss = F.cross_entropy(clf(x), t)
        loss.backward()
        opt.step()
    assert loss.item() < 0.1


def _quarter_turn(nside):
    return sgt.symmetry_permutation(sg.healpix(nside), sgt.rotation_z(np.pi / 2))


@pytest.mark.parametrize("nside,depth", [(4, 2), (8, 3)])
def test_exact_quarter_turn_equivariance(nside, depth):
    """The default graph keeps distance ties, so a quarter turn maps every level onto itself."""
    s = sg.healpix(nside)
    perm = torch.as_tensor(_quarter_turn(nside))
    m = su.SphericalUNet(s, 2, 3, depth=depth, width=4, graph="knn", k=8, pool="avg").double()
    L = m.stack.operators[0].to_sparse_csr().to_dense()
    torch.testing.assert_close(L[perm][:, perm], L, rtol=0, atol=1e-6)
    for mode in ("train", "eval"):
        m.train(mode == "train")
        residual = testing.assert_equivariant(m, s, sgt.rotation_z(np.pi / 2), atol=1e-9)
        assert residual < 1e-9


def test_assert_equivariant_catches_broken_models():
    """A position-dependent output and an index tie-break graph both fail the check."""
    s = sg.healpix(4)
    R = sgt.rotation_z(np.pi / 2)
    m = su.SphericalUNet(s, 1, 2, depth=1, width=4).eval()
    testing.assert_equivariant(m, s, R)
    bias = torch.linspace(0.0, 1.0, s.n_vertices)[None, :, None]

    class Broken(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = m

        def forward(self, x):
            return self.inner(x) + bias  # depends on the vertex index, not the position

    with pytest.raises(AssertionError, match="not equivariant"):
        testing.assert_equivariant(Broken(), s, R, channels=1)
    strict = su.SphericalUNet(s, 1, 2, depth=1, width=4, graph="knn_strict", K=4).eval()
    with pytest.raises(AssertionError, match="not equivariant"):
        testing.assert_equivariant(strict, s, R)


def test_assert_equivariant_with_permutation_and_float64():
    """A permutation is accepted as the symmetry; float64 models are checked in float64."""
    s = sg.healpix(4)
    m = su.SphericalUNet(s, 2, 2, depth=2, width=4).double().eval()
    assert testing.assert_equivariant(m, s, _quarter_turn(4), atol=1e-10) < 1e-10

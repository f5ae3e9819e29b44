"""Learning and equivariance."""

import numpy as np
import pytest
import sphere_graphs as sg
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


def test_healpix_quarter_turn_is_permutation():
    perm = testing.healpix_quarter_turn(4)
    s = sg.healpix(4)
    R = testing.rotation_z(np.pi / 2)
    np.testing.assert_allclose(s.coords[perm], s.coords @ R, atol=1e-12)
    assert np.array_equal(np.sort(perm), np.arange(s.n_vertices))
    with pytest.raises(ValueError, match="symmetry"):
        testing.rotation_permutation(s.coords, testing.rotation_z(0.3))


@pytest.mark.parametrize("nside,depth", [(4, 2), (8, 3)])
def test_exact_quarter_turn_equivariance(nside, depth):
    s = sg.healpix(nside)
    perm = torch.as_tensor(testing.healpix_quarter_turn(nside))
    m = su.SphericalUNet(s, 2, 3, depth=depth, width=4, graph="knn", k=8, pool="avg")
    # k-NN ties could make the graph differ from its rotated copy; it must not.
    L = m.stack.operators[0].to_sparse_csr().to_dense()
    assert torch.allclose(L[perm][:, perm], L, atol=1e-6)
    x = torch.randn(2, s.n_vertices, 2)
    for mode in ("train", "eval"):
        m.train(mode == "train")
        with torch.no_grad():
            y = m(x)
            y_rot = m(x[:, perm])
        torch.testing.assert_close(y_rot, y[:, perm], rtol=1e-4, atol=1e-5)


def test_random_rotation_error_is_reported():
    s = sg.healpix(8)
    m = su.SphericalUNet(s, 1, 2, depth=2, width=4).eval()
    err = testing.equivariance_error(m, s, testing.random_rotation(0), in_channels=1)
    assert np.isfinite(err) and 0 <= err < 1.0
    exact = testing.equivariance_error(m, s, testing.rotation_z(np.pi / 2), in_channels=1)
    assert exact < 1e-4

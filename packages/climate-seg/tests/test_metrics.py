"""Streaming segmentation metrics against scikit-learn and dense numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from climate_seg.metrics import IgniteSegmentationMetrics, SegmentationMetrics, average_precision

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def random_batch(rng, b=4, v=2000, informative=1.5):
    y = rng.choice(3, size=(b, v), p=[0.9, 0.03, 0.07])
    logits = rng.standard_normal((b, v, 3)) + informative * np.eye(3)[y]
    p = np.exp(logits)
    return p / p.sum(-1, keepdims=True), y


def dense_reference(p, y):
    p, y = p.reshape(-1, 3), y.ravel()
    pred = p.argmax(1)
    recall = [np.mean(pred[y == c] == c) for c in range(3)]
    iou = [np.sum((pred == c) & (y == c)) / np.sum((pred == c) | (y == c)) for c in range(3)]
    ap = [sklearn_metrics.average_precision_score(y == c, p[:, c]) for c in (1, 2)]
    return recall, iou, ap


def test_exact_ap_equals_sklearn_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.random(300) < 0.2
        s = np.round(rng.random(300) + 0.3 * y, 2)  # many ties
        assert average_precision(s, y) == pytest.approx(
            sklearn_metrics.average_precision_score(y, s), abs=1e-12
        )
    assert np.isnan(average_precision(np.ones(5), np.zeros(5, bool)))


def test_small_set_exact_matches_dense():
    rng = np.random.default_rng(1)
    m = SegmentationMetrics()
    ps, ys = [], []
    for _ in range(3):
        p, y = random_batch(rng)
        m.update(torch.from_numpy(p), torch.from_numpy(y))
        ps.append(p), ys.append(y)
    p, y = np.concatenate(ps), np.concatenate(ys)
    out = m.compute()
    recall, iou, ap = dense_reference(p, y)
    assert out["ap_exact"]
    assert out["AP_TC"] == pytest.approx(ap[0], abs=1e-9) and out["AP_AR"] == pytest.approx(
        ap[1], abs=1e-9
    )
    assert out["mAP"] == pytest.approx(np.mean(ap), abs=1e-9)
    assert out["mean_accuracy"] == pytest.approx(np.mean(recall))
    for c, name in enumerate(("background", "TC", "AR")):
        assert out[f"recall_{name}"] == pytest.approx(recall[c])
        assert out[f"IoU_{name}"] == pytest.approx(iou[c])
    assert out["mean_IoU"] == pytest.approx(np.mean(iou))
    assert out["confusion"].sum() == y.size and out["n_vertices"] == y.size
    assert out["pixel_accuracy"] == pytest.approx(np.mean(p.reshape(-1, 3).argmax(1) == y.ravel()))


@pytest.mark.parametrize("informative", [0.5, 2.0])
def test_streaming_ap_close_to_sklearn(informative):
    rng = np.random.default_rng(2)
    m = SegmentationMetrics(exact_limit=0, n_bins=100_000)
    ps, ys = [], []
    for _ in range(8):
        p, y = random_batch(rng, b=2, v=20000, informative=informative)
        m.update(p.reshape(-1, 3), y.ravel())  # (N, 3) form
        ps.append(p), ys.append(y)
    out = m.compute()
    assert not out["ap_exact"]
    _, _, ap = dense_reference(np.concatenate(ps), np.concatenate(ys))
    assert abs(out["AP_TC"] - ap[0]) < 1e-3 and abs(out["AP_AR"] - ap[1]) < 1e-3


def test_switches_to_bins_beyond_limit_and_memory_is_bounded():
    rng = np.random.default_rng(3)
    m = SegmentationMetrics(exact_limit=10_000)
    for _ in range(4):
        m.update(*random_batch(rng, b=1, v=4000))
    assert not m.exact and m._scores is None
    assert np.isfinite(m.compute()["mAP"])
    m.reset()
    with pytest.raises(ValueError, match="no data"):
        m.compute()


def test_bad_inputs():
    m = SegmentationMetrics()
    with pytest.raises(ValueError, match="shape"):
        m.update(np.zeros((4, 2)), np.zeros(4, int))
    with pytest.raises(ValueError, match="entries"):
        m.update(np.zeros((4, 3)), np.zeros(5, int))
    with pytest.raises(ValueError, match=r"0\.\.2"):
        m.update(np.zeros((4, 3)), np.array([0, 1, 2, 3]))


def test_ignite_wrapper():
    from ignite.engine import Engine

    rng = np.random.default_rng(4)
    batches = []
    for _ in range(3):
        y = rng.choice(3, size=(2, 500), p=[0.8, 0.05, 0.15])
        logits = rng.standard_normal((2, 500, 3)) + 2 * np.eye(3)[y]
        batches.append((torch.tensor(logits, dtype=torch.float32), torch.from_numpy(y)))
    engine = Engine(lambda e, batch: batch)
    IgniteSegmentationMetrics(output_transform=lambda o: (o[0], o[1])).attach(engine, "seg")
    state = engine.run(batches, max_epochs=1)
    ref = SegmentationMetrics()
    for logits, y in batches:
        ref.update(torch.softmax(logits, -1), y)
    expected = ref.compute()
    assert state.metrics["mAP"] == pytest.approx(expected["mAP"])
    assert state.metrics["seg"]["mean_accuracy"] == pytest.approx(expected["mean_accuracy"])


def test_state_sum_and_load_merges_ranks():
    rng = np.random.default_rng(5)
    full, parts = SegmentationMetrics(exact_limit=0), [SegmentationMetrics(), SegmentationMetrics()]
    for i in range(4):
        p, y = random_batch(rng, b=1, v=3000)
        full.update(p, y)
        parts[i % 2].update(p, y)
    merged = SegmentationMetrics()
    merged.load(parts[0].state() + parts[1].state())
    a, b = merged.compute(), full.compute()
    assert not a["ap_exact"] and a["mAP"] == pytest.approx(b["mAP"], abs=1e-12)
    assert np.array_equal(a["confusion"], b["confusion"]) and a["n_vertices"] == b["n_vertices"]
    with pytest.raises(ValueError, match="entries"):
        merged.load(torch.zeros(5))


def test_map_is_nan_when_a_class_ap_is_undefined():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=200)
    labels = rng.choice([0, 2], size=200)  # no TC vertex: AP TC undefined
    m = SegmentationMetrics()
    m.update(probs, labels)
    out = m.compute()
    assert np.isnan(out["AP_TC"]) and np.isfinite(out["AP_AR"])
    assert np.isnan(out["mAP"])  # not AP AR alone


def test_precision_recall_curve_matches_sklearn():
    from sklearn.metrics import precision_recall_curve

    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3), size=500)
    probs[:, 1] = (
        rng.integers(0, 1000, 500) + 0.5
    ) / 1000  # one score value per histogram bin: exact curve
    labels = rng.integers(0, 3, 500)
    m = SegmentationMetrics(n_bins=1000)
    m.update(probs, labels)
    precision, recall = m.precision_recall(0)  # first AP class: TC
    ref_p, ref_r, _ = precision_recall_curve(labels == 1, probs[:, 1])
    ours = sorted(zip(recall, precision, strict=True))
    theirs = sorted((r, p) for r, p in zip(ref_r, ref_p, strict=True) if r > 0)
    assert np.allclose(ours, theirs)

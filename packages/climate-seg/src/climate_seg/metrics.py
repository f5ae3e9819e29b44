"""Streaming segmentation metrics for the CAM5 AR/TC task, bounded memory.

``SegmentationMetrics`` accumulates per-vertex class probabilities and labels and
computes, for the DeepSphere / UGSCNN evaluation:

- per-class average precision (AP) of TC and AR, ``mAP`` = mean of the two. Exact
  (identical to scikit-learn's ``average_precision_score``) while the number of
  accumulated vertices stays below ``exact_limit``; beyond that, scores are binned in
  ``n_bins`` fixed-width bins on [0, 1] and AP is computed from the histograms
  (scores in a bin count as ties), so memory stays bounded;
- the confusion matrix of the argmax prediction, per-class recall, mean accuracy
  (the paper's "accuracy": mean of per-class recall over the three classes), per-class
  IoU and mean IoU, and pixel accuracy.

``IgniteSegmentationMetrics`` wraps it as an ``ignite.metrics.Metric`` whose
``output_transform`` yields ``(logits (B, V, 3), y (B, V))``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from ignite.metrics import Metric as _IgniteMetric
from numpy.typing import NDArray

__all__ = ["IgniteSegmentationMetrics", "SegmentationMetrics", "average_precision"]

CLASS_NAMES = ("background", "TC", "AR")


def average_precision(scores: NDArray[np.floating], positives: NDArray[np.bool_]) -> float:
    """Exact average precision, step-wise (as scikit-learn's ``average_precision_score``).

    Parameters
    ----------
    scores : ndarray, shape (N,)
        Higher means more likely positive.
    positives : ndarray of bool, shape (N,)

    Returns
    -------
    float
        ``sum_n (R_n - R_{n-1}) P_n`` over distinct score thresholds; NaN without positives.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    positives = np.asarray(positives, dtype=bool).ravel()
    if scores.shape != positives.shape:
        raise ValueError(
            f"scores and positives differ in size: {scores.shape} vs {positives.shape}."
        )
    order = np.argsort(-scores, kind="stable")
    s, p = scores[order], positives[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1] if len(s) else np.zeros(0, int)
    tp = np.cumsum(p)[last]
    fp = (last + 1) - tp
    return _ap_from_counts(tp.astype(np.float64), fp.astype(np.float64))


def _ap_from_counts(tp: NDArray[np.float64], fp: NDArray[np.float64]) -> float:
    """AP from cumulative true/false positive counts at decreasing thresholds."""
    if len(tp) == 0 or tp[-1] == 0:
        return float("nan")
    denom = tp + fp
    precision = np.divide(tp, denom, out=np.ones_like(tp), where=denom > 0)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _to_numpy(x: object) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class SegmentationMetrics:
    """Accumulator of segmentation metrics over batches.

    Parameters
    ----------
    n_classes : int
        Number of classes (3: background, TC, AR).
    ap_classes : sequence of int
        Classes whose AP is computed and averaged into ``mAP`` (TC and AR).
    n_bins : int
        Histogram bins on [0, 1] for the streaming AP (1e5 bins: ``|error|`` well below 1e-3).
    exact_limit : int
        Keep exact scores until this many vertices have been seen (0: always binned;
        memory ``O(exact_limit * len(ap_classes))``).
    class_names : sequence of str

    Examples
    --------
    >>> m = SegmentationMetrics()
    >>> m.update(probs, labels)   # probs (B, V, 3) or (N, 3), labels (B, V) or (N,)
    >>> m.compute()["mAP"]
    """

    def __init__(
        self,
        n_classes: int = 3,
        ap_classes: Sequence[int] = (1, 2),
        n_bins: int = 100_000,
        exact_limit: int = 2_000_000,
        class_names: Sequence[str] = CLASS_NAMES,
    ) -> None:
        if n_bins < 10:
            raise ValueError(f"n_bins must be >= 10; got {n_bins}.")
        if any(not 0 <= c < n_classes for c in ap_classes):
            raise ValueError(f"ap_classes {tuple(ap_classes)} must lie in 0..{n_classes - 1}.")
        self.n_classes = n_classes
        self.ap_classes = tuple(int(c) for c in ap_classes)
        self.n_bins = int(n_bins)
        self.exact_limit = int(exact_limit)
        self.class_names = (
            tuple(class_names)
            if len(class_names) == n_classes
            else tuple(str(i) for i in range(n_classes))
        )
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated."""
        k = len(self.ap_classes)
        self.confusion: NDArray[np.int64] = np.zeros(
            (self.n_classes, self.n_classes), dtype=np.int64
        )
        self.hist_pos: NDArray[np.int64] = np.zeros((k, self.n_bins), dtype=np.int64)
        self.hist_neg: NDArray[np.int64] = np.zeros((k, self.n_bins), dtype=np.int64)
        self._scores: list[np.ndarray] | None = [] if self.exact_limit > 0 else None
        self._labels: list[np.ndarray] = []
        self.count = 0

    @property
    def exact(self) -> bool:
        """True while AP is still computed exactly from stored scores."""
        return self._scores is not None

    def update(self, probs: object, labels: object) -> None:
        """Add a batch.

        Parameters
        ----------
        probs : array or tensor, shape (N, C) or (B, V, C)
            Class probabilities (e.g. softmax of logits); scores for AP. Any real
            scores work for the exact AP; the binned AP clips them to [0, 1].
        labels : array or tensor of int, shape (N,) or (B, V)
        """
        p = _to_numpy(probs)
        y = _to_numpy(labels)
        if p.ndim < 2 or p.shape[-1] != self.n_classes:
            raise ValueError(
                f"probs must have shape (N, {self.n_classes}) or (B, V, {self.n_classes}); got {p.shape}."
            )
        p = p.reshape(-1, self.n_classes)
        if p.dtype.kind != "f":
            p = p.astype(np.float64)
        y = y.reshape(-1)
        if y.shape[0] != p.shape[0]:
            raise ValueError(
                f"labels have {y.shape[0]} entries but probs {p.shape[0]} rows; shapes must match."
            )
        if y.size and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"labels must be integers in 0..{self.n_classes - 1}.")
        y = y.astype(np.int64, copy=False)
        pred = p.argmax(1)
        self.confusion += np.bincount(
            y * self.n_classes + pred, minlength=self.n_classes**2
        ).reshape(self.n_classes, self.n_classes)
        scores = p[:, self.ap_classes]  # (N, K)
        bins = np.clip(
            (np.clip(scores, 0.0, 1.0) * self.n_bins).astype(np.int64), 0, self.n_bins - 1
        )
        for k, c in enumerate(self.ap_classes):
            pos = y == c
            self.hist_pos[k] += np.bincount(bins[pos, k], minlength=self.n_bins)
            self.hist_neg[k] += np.bincount(bins[~pos, k], minlength=self.n_bins)
        self.count += y.size
        if self._scores is not None:
            if self.count > self.exact_limit:
                self._scores, self._labels = None, []
            else:
                self._scores.append(scores.copy())
                self._labels.append(y.copy())

    def state(self) -> torch.Tensor:
        """Binned state as one float64 tensor, for summing across processes.

        Returns
        -------
        torch.Tensor, shape (C*C + 2*K*n_bins + 1,), float64
            Confusion matrix, positive and negative score histograms, vertex count.
            Sum it over ranks (e.g. ``idist.all_reduce``) and pass the sum to :meth:`load`.
        """
        parts = [
            self.confusion.ravel(),
            self.hist_pos.ravel(),
            self.hist_neg.ravel(),
            np.array([self.count]),
        ]
        return torch.from_numpy(np.concatenate(parts).astype(np.float64))

    def load(self, flat: object) -> None:
        """Replace the accumulated state by a (summed) :meth:`state` tensor.

        Exact scores cannot be merged this way, so AP switches to the binned estimate.
        """
        flat = np.rint(_to_numpy(flat).astype(np.float64)).astype(np.int64).ravel()
        c2, kb = self.n_classes**2, self.hist_pos.size
        if flat.shape[0] != c2 + 2 * kb + 1:
            raise ValueError(
                f"state has {flat.shape[0]} entries; expected {c2 + 2 * kb + 1} (same n_classes, ap_classes, n_bins)."
            )
        self.confusion = flat[:c2].reshape(self.confusion.shape)
        self.hist_pos = flat[c2 : c2 + kb].reshape(self.hist_pos.shape)
        self.hist_neg = flat[c2 + kb : c2 + 2 * kb].reshape(self.hist_neg.shape)
        self.count = int(flat[-1])
        self._scores, self._labels = None, []

    def _ap(self) -> list[float]:
        if self._scores is not None and self._scores:
            s = np.concatenate(self._scores)
            y = np.concatenate(self._labels)
            return [average_precision(s[:, k], y == c) for k, c in enumerate(self.ap_classes)]
        out = []
        for k in range(len(self.ap_classes)):
            pos, neg = self.hist_pos[k][::-1], self.hist_neg[k][::-1]  # highest scores first
            keep = (pos + neg) > 0  # one threshold per non-empty bin
            tp = np.cumsum(pos).astype(np.float64)[keep]
            fp = np.cumsum(neg).astype(np.float64)[keep]
            out.append(_ap_from_counts(tp, fp))
        return out

    def precision_recall(self, k: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Precision and recall of AP class number ``k`` at decreasing score thresholds (histogram bins).

        Returns
        -------
        precision, recall : ndarray, shape (n_thresholds,)
        """
        pos, neg = self.hist_pos[k][::-1], self.hist_neg[k][::-1]
        keep = (pos + neg) > 0
        tp = np.cumsum(pos).astype(np.float64)[keep]
        fp = np.cumsum(neg).astype(np.float64)[keep]
        if len(tp) == 0 or tp[-1] == 0:
            return np.zeros(0), np.zeros(0)
        return tp / (tp + fp), tp / tp[-1]

    def compute(self) -> dict:
        """Metrics so far.

        Returns
        -------
        dict
            ``"AP_<name>"`` per AP class and ``"mAP"`` (their mean; NaN when any of them is
            NaN, i.e. a class has no positive vertex);
            ``"recall_<name>"`` and ``"IoU_<name>"`` per class; ``"mean_accuracy"``
            (mean per-class recall), ``"mean_IoU"``, ``"pixel_accuracy"``,
            ``"confusion"`` (C, C) int64 ndarray (rows: truth, columns: prediction),
            ``"n_vertices"`` and ``"ap_exact"``. Classes absent from the truth give
            NaN recall and are skipped in the means.
        """
        if self.count == 0:
            raise ValueError("no data accumulated; call update() first.")
        cm = self.confusion.astype(np.float64)
        tp = np.diag(cm)
        support = cm.sum(1)
        recall = np.divide(tp, support, out=np.full_like(tp, np.nan), where=support > 0)
        union = support + cm.sum(0) - tp
        iou = np.divide(tp, union, out=np.full_like(tp, np.nan), where=union > 0)
        out: dict = {}
        aps = self._ap()
        for c, ap in zip(self.ap_classes, aps, strict=True):
            out[f"AP_{self.class_names[c]}"] = ap
        # NaN when any class AP is undefined (no positive of that class): a mean over the
        # remaining classes would silently report another quantity
        out["mAP"] = (
            float(np.mean(aps)) if aps and not any(np.isnan(a) for a in aps) else float("nan")
        )
        for c in range(self.n_classes):
            out[f"recall_{self.class_names[c]}"] = float(recall[c])
            out[f"IoU_{self.class_names[c]}"] = float(iou[c])
        present = support > 0
        out["mean_accuracy"] = float(np.mean(recall[present]))
        out["mean_IoU"] = float(np.nanmean(iou[present])) if present.any() else float("nan")
        out["pixel_accuracy"] = float(tp.sum() / cm.sum())
        out["confusion"] = self.confusion.copy()
        out["n_vertices"] = int(self.count)
        out["ap_exact"] = self.exact
        return out


class IgniteSegmentationMetrics(_IgniteMetric):
    """:class:`SegmentationMetrics` as an ``ignite.metrics.Metric``, exact over several processes.

    Parameters
    ----------
    output_transform : callable
        Maps the engine output to ``(scores, y)`` with scores (B, V, C) (or (N, C)) and y
        (B, V) (or (N,)).
    device : str or torch.device
        Where the summed state travels for the all-reduce (the process's device).
    from_logits : bool
        True: ``scores`` are logits and softmax is applied here; False: probabilities.
    **kwargs
        Passed to :class:`SegmentationMetrics` (``n_bins``, ``exact_limit``, ...).

    Notes
    -----
    ``compute()`` returns the dict of :meth:`SegmentationMetrics.compute`; attached to an
    engine, ignite also stores each key in ``engine.state.metrics``. With several
    processes (``ignite.distributed``), ``compute()`` sums the binned states of all ranks
    (every rank must call it), so every sample counts exactly once; :attr:`accumulator`
    then holds the summed state (e.g. for :meth:`SegmentationMetrics.precision_recall`).
    """

    def __init__(
        self,
        output_transform: Callable = lambda x: x,
        device: str | torch.device = "cpu",
        from_logits: bool = True,
        **kwargs: Any,
    ) -> None:
        self._acc = SegmentationMetrics(**kwargs)
        self.from_logits = bool(from_logits)
        super().__init__(output_transform=output_transform, device=device)

    @property
    def accumulator(self) -> SegmentationMetrics:
        """The underlying accumulator."""
        return self._acc

    def reset(self) -> None:
        """Start a new epoch."""
        self._acc.reset()

    def update(self, output: Any) -> None:
        """Add ``(scores, y)``."""
        scores, y = output[0], output[1]
        scores = scores if isinstance(scores, torch.Tensor) else torch.as_tensor(scores)
        scores = scores.detach().float()
        probs = torch.softmax(scores, dim=-1) if self.from_logits else scores
        self._acc.update(probs.cpu(), y.cpu() if isinstance(y, torch.Tensor) else y)

    def compute(self) -> dict[str, Any]:
        """Metrics of the epoch (see :meth:`SegmentationMetrics.compute`), summed over processes."""
        import ignite.distributed as idist

        if idist.get_world_size() > 1:
            total = idist.all_reduce(self._acc.state().to(self._device))
            assert isinstance(total, torch.Tensor)
            self._acc.load(total.cpu())
        return self._acc.compute()

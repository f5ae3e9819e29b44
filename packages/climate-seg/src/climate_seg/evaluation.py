"""Evaluation of a model on a dataset: streaming metrics, exact over several processes.

Independent of the training code: used by training (validation, test), ``evaluate`` and
``predict``.
"""

from __future__ import annotations

from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from .metrics import IgniteSegmentationMetrics, SegmentationMetrics
from .pipeline import loader_worker_init
from .transform import MeshGrid

__all__ = ["evaluate_model", "metric_dict"]


def metric_dict(r: dict[str, Any]) -> dict[str, float]:
    """The lower-case metric keys of the logs and reports from :meth:`SegmentationMetrics.compute`'s dict.

    Returns
    -------
    dict
        ``ap_tc``, ``ap_ar``, ``map`` (NaN when either AP is undefined), ``mean_accuracy``,
        ``accuracy`` (pixel), ``mean_iou``, ``recall_<c>`` and ``iou_<c>`` for c in bg, tc,
        ar, and ``n_vertices``.
    """
    out = {
        "ap_tc": r["AP_TC"],
        "ap_ar": r["AP_AR"],
        "map": r["mAP"],
        "mean_accuracy": r["mean_accuracy"],
        "accuracy": r["pixel_accuracy"],
        "mean_iou": r["mean_IoU"],
    }
    for new, old in (("bg", "background"), ("tc", "TC"), ("ar", "AR")):
        out[f"recall_{new}"], out[f"iou_{new}"] = r[f"recall_{old}"], r[f"IoU_{old}"]
    result: dict[str, Any] = {k: float(v) for k, v in out.items()}
    result["n_vertices"] = int(r["n_vertices"])
    return result


def evaluate_model(
    model: torch.nn.Module,
    dataset: Any,
    device: torch.device | str = "cpu",
    batch_size: int = 4,
    transform: MeshGrid | None = None,
    workers: int = 0,
    keep: list[SegmentationMetrics] | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics of ``model`` on ``dataset`` (all ranks cooperate; every rank gets the result).

    An ignite evaluator ``Engine`` with :class:`~climate_seg.metrics.IgniteSegmentationMetrics`
    attached (grid, and mesh when the grid differs).

    Each rank evaluates an unpadded shard (samples ``rank, rank + world, ...``) with the
    plain module (no DDP collectives, so shards may differ in length); the accumulators are
    summed over ranks, so every sample counts exactly once (``n_vertices`` = samples x V).

    Parameters
    ----------
    model : torch.nn.Module
        Plain or DDP-wrapped: ``(B, V, 16)`` (or ``(B, T, V, 16)``) to logits ``(B, V, 3)``.
    dataset : Dataset
        Yields ``(x, y (V,), y_mesh (V_mesh,))`` (:class:`climate_seg.transform.GridDataset`).
    transform : MeshGrid, optional
        When the grid is not the mesh, predictions are also mapped back (nearest) and
        scored on the mesh.
    keep : list, optional
        Receives the accumulators (grid, then mesh), e.g. for precision-recall curves.

    Returns
    -------
    dict
        ``{"grid": metrics}`` plus ``{"mesh": metrics}`` when the grid differs from the mesh
        (see :func:`metric_dict`).
    """
    module = model.module if isinstance(model, DistributedDataParallel) else model
    was_training = module.training
    module.eval()
    rank, world = idist.get_rank(), idist.get_world_size()
    shard = list(range(rank, len(dataset), world))
    back = transform if transform is not None and not transform.identity else None

    def step(engine: Engine, batch: Any) -> tuple[torch.Tensor, ...]:
        x, y, y_mesh = batch
        probs = torch.softmax(module(x.to(device)).float(), dim=-1).cpu()
        mesh = back.to_mesh(probs) if back is not None else probs
        return probs, y, mesh, y_mesh

    evaluator = Engine(step)
    metrics = {
        "grid": IgniteSegmentationMetrics(lambda o: (o[0], o[1]), device=device, from_logits=False)
    }
    if back is not None:
        metrics["mesh"] = IgniteSegmentationMetrics(
            lambda o: (o[2], o[3]), device=device, from_logits=False
        )
    for name, metric in metrics.items():
        metric.attach(evaluator, name)
    with torch.no_grad():
        if shard:
            evaluator.run(
                DataLoader(
                    dataset,
                    batch_size=batch_size,
                    sampler=shard,
                    num_workers=workers,
                    worker_init_fn=loader_worker_init if workers else None,
                )
            )
            results = {name: evaluator.state.metrics[name] for name in metrics}
        else:  # an empty shard (fewer samples than ranks) still joins the all-reduce
            results = {name: metric.compute() for name, metric in metrics.items()}
    out = {}
    for name, metric in metrics.items():
        out[name] = metric_dict(results[name])
        if keep is not None:
            keep.append(metric.accumulator)
    module.train(was_training)
    return out

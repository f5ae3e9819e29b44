"""Training and evaluation with pytorch-ignite: one process, or ``DistributedDataParallel``
(NCCL over GPUs, gloo over CPU processes) through ``ignite.distributed``.

With several processes the training set is sharded by a padded ``DistributedSampler``
(equal step counts on every rank, as DDP needs) and gradients are averaged by DDP during
``backward``. Evaluation shards the split *without* padding and sums the metric
accumulators over ranks, so every sample is counted exactly once whatever the world size.
"""

from __future__ import annotations

import gc
import json
import math
import time
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import numpy as np
import torch
from ignite.engine import Engine, Events
from ignite.handlers import EarlyStopping, TerminateOnNan
from torch.utils.data import DataLoader

from ..config import TrainConfig, config_from_dict, parse_class_weights, save_config
from . import _deps
from .checkpoint import atomic_save, atomic_write_bytes, load_checkpoint
from .data_setup import PreparedData, class_weights, prepare_data
from .distributed import parameter_digest, sync_buffers, unwrap, wrap_ddp
from .logging import RunLogger, metrics_table
from .sampler import ResumableSampler

__all__ = ["evaluate_model", "train_worker"]


def _device(cfg: TrainConfig) -> torch.device:
    """This process's device: the DDP device, ``cuda:<id>`` for one ``--gpu`` id, else the CPU."""
    if idist.get_world_size() > 1:
        return idist.device()
    if cfg.gpu:
        torch.cuda.set_device(cfg.gpu[0])
        return torch.device("cuda", cfg.gpu[0])
    return torch.device("cpu")


def _loader(dataset: Any, batch_size: int, sampler: ResumableSampler, workers: int) -> DataLoader:
    """Batches of this rank's shard (``batch_size`` per process; pinned memory on CUDA)."""
    pin = idist.device().type == "cuda"
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, drop_last=False,
                      pin_memory=pin)


@torch.no_grad()
def evaluate_model(model: torch.nn.Module, dataset: Any, device: torch.device, batch_size: int,
                   to_mesh: torch.Tensor | None = None, workers: int = 0) -> dict[str, dict[str, float]]:
    """Metrics of ``model`` on ``dataset`` (all ranks cooperate; every rank gets the result).

    Each rank evaluates an unpadded shard (samples ``rank, rank + world, ...``) with the
    plain module (no DDP collectives, so shards may differ in length); the accumulators are
    summed over ranks, so every sample counts exactly once (``n_vertices`` = samples x V).

    Parameters
    ----------
    model : torch.nn.Module
        Plain or DDP-wrapped model: ``(B, V, 16)`` (or ``(B, T, V, 16)``) to logits ``(B, V, 3)``.
    dataset : Dataset
        Yields ``(x, y (V,), y_mesh (V_mesh,))``.
    to_mesh : torch.Tensor, optional
        Sparse ``(V_mesh, V)`` nearest resampling of the predictions back to the data mesh.

    Returns
    -------
    dict
        ``{"grid": metrics}`` plus ``{"mesh": metrics}`` when the grid differs from the mesh
        (predictions mapped back by nearest resampling). Metrics: ``ap_tc``, ``ap_ar``,
        ``map``, ``mean_accuracy``, ``accuracy``, recalls and IoUs.
    """
    model = unwrap(model)
    was_training = model.training
    model.eval()
    sampler = ResumableSampler(len(dataset), shuffle=False, rank=idist.get_rank(), world_size=idist.get_world_size(),
                               pad=False)
    acc_grid, acc_mesh = _deps.make_accumulator(), _deps.make_accumulator()
    back = to_mesh.to(device) if to_mesh is not None else None
    for x, y, y_mesh in _loader(dataset, batch_size, sampler, workers):
        probs = torch.softmax(model(x.to(device)).float(), dim=-1)
        acc_grid.update(probs.reshape(-1, probs.shape[-1]), y.reshape(-1))
        if back is not None:
            pm = torch.stack([torch.sparse.mm(back, p) for p in probs])
            acc_mesh.update(pm.reshape(-1, pm.shape[-1]).cpu(), y_mesh.reshape(-1))
    out = {}
    for name, acc in (("grid", acc_grid), ("mesh", acc_mesh)):
        if name == "mesh" and back is None:
            continue
        if idist.get_world_size() > 1:
            acc.load(idist.all_reduce(acc.state().to(device)).cpu())
        out[name] = acc.compute()
    model.train(was_training)
    return out


def _state(model, opt, sched, trainer, early, best, cfg, data: PreparedData, kind: str) -> dict[str, Any]:
    module = unwrap(model)
    return {
        "model": module.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict() if sched else None,
        "trainer": trainer.state_dict(), "early_stopping": early.state_dict() if early else None, "best_map": best,
        "rng": torch.get_rng_state(), "config": cfg.to_dict(), "kind": kind,
        "grid": {"sampling": cfg.sampling, "resolution": cfg.grid_resolution, "n_vertices": data.grid.n_vertices},
        "mean": data.mean, "std": data.std,
    }


def train_worker(local_rank: int, cfg: TrainConfig) -> None:
    """Train one run; called once per process by :func:`~.distributed.launch`.

    Rank 0 writes the checkpoints, ``metrics.jsonl`` and ``test_metrics.json`` (whose
    ``distributed`` entry lists the world size, backend and every rank's parameter digest
    at the end of training: equal digests prove that the ranks stayed in sync).
    """
    _train(cfg)
    if idist.get_world_size() > 1:
        # The engine's handlers keep the DDP model in reference cycles; free its reducer while the
        # process group still exists (ignite destroys the group right after this function returns;
        # a DDP object collected later aborts the process), and leave together.
        gc.collect()
        idist.barrier()


def _train(cfg: TrainConfig) -> None:
    """The body of :func:`train_worker` (one process)."""
    rank, world = idist.get_rank(), idist.get_world_size()
    device = _device(cfg)
    run_dir = Path(cfg.out)
    last_path = run_dir / "last.pt"
    resume = last_path.is_file() and bool(cfg.extra.get("resume"))
    ckpt = load_checkpoint(last_path) if resume else None
    data = prepare_data(cfg, *(ckpt["mean"], ckpt["std"]) if ckpt else (None, None))
    torch.manual_seed(cfg.seed)
    model = _deps.build_model(cfg, data.grid).to(device)
    if ckpt:
        if ckpt["grid"]["n_vertices"] != data.grid.n_vertices:
            raise ValueError("the checkpoint was trained on another sampling; resume with the run's own settings.")
        model.load_state_dict(ckpt["model"])
    model = wrap_ddp(model)  # DDP when world > 1: rank 0's weights broadcast, gradients averaged in backward
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    weights = class_weights(parse_class_weights(cfg.class_weights), data.class_counts)
    criterion = torch.nn.CrossEntropyLoss(weight=weights.to(device) if weights is not None else None)
    sampler = ResumableSampler(len(data.train), seed=cfg.seed, shuffle=True, rank=rank, world_size=world)
    loader = _loader(data.train, cfg.batch_size, sampler, cfg.num_workers)
    epoch_length = -(-len(sampler) // cfg.batch_size)
    warm_iters = cfg.warmup_epochs * epoch_length
    if cfg.scheduler == "cosine":
        sched: Any = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs * epoch_length - warm_iters))
    else:
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=2)

    def step(engine: Engine, batch: Any) -> float:
        model.train()
        x, y, _ = batch
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss = criterion(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.detach()
        if idist.get_world_size() > 1:
            # every rank sees the mean loss: a NaN on one rank stops all ranks at the
            # same iteration (TerminateOnNan) instead of leaving the others waiting
            value = idist.all_reduce(value.clone()) / idist.get_world_size()
        return value.item()

    trainer = Engine(step)
    early = EarlyStopping(cfg.patience, lambda e: e.state.metrics["map"], trainer) if cfg.patience > 0 else None
    logger = RunLogger(run_dir, enabled=rank == 0)
    best = {"map": -math.inf}
    if ckpt:
        trainer.load_state_dict(ckpt["trainer"])
        opt.load_state_dict(ckpt["optimizer"])
        if ckpt["scheduler"]:
            sched.load_state_dict(ckpt["scheduler"])
        if early and ckpt["early_stopping"]:
            early.load_state_dict(ckpt["early_stopping"])
        best["map"] = ckpt["best_map"]
        torch.set_rng_state(ckpt["rng"])
        it = trainer.state.iteration
        sampler.set_epoch(it // epoch_length, (it % epoch_length) * cfg.batch_size)
        logger.print(f"[bold]resuming[/] {run_dir} at epoch {it // epoch_length + 1}, iteration {it}")
    time_limit = float(cfg.extra.get("time_limit_s", 0) or 0)
    started = time.time()

    @trainer.on(Events.ITERATION_STARTED)
    def warmup(engine: Engine) -> None:
        it = engine.state.iteration
        if it <= warm_iters:
            for g in opt.param_groups:
                g["lr"] = cfg.lr * it / max(warm_iters, 1)
        elif cfg.scheduler == "cosine" and it > warm_iters + 1:
            sched.step()

    @trainer.on(Events.EPOCH_STARTED)
    def epoch_started(engine: Engine) -> None:
        done = engine.state.iteration - (engine.state.epoch - 1) * epoch_length
        logger.start_epoch(engine.state.epoch, epoch_length, done)

    @trainer.on(Events.ITERATION_COMPLETED)
    def after_iteration(engine: Engine) -> None:
        logger.step(engine.state.output)
        if cfg.checkpoint_every and engine.state.iteration % cfg.checkpoint_every == 0 and rank == 0:
            atomic_save(_state(model, opt, sched, trainer, early, best["map"], cfg, data, "last"), last_path)

    trainer.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan())

    @trainer.on(Events.EPOCH_COMPLETED)
    def validate(engine: Engine) -> None:
        logger.stop()
        sampler.set_epoch(engine.state.epoch)
        sync_buffers(model)  # evaluate (and checkpoint) rank 0's batch-norm statistics on every rank
        start = time.time()
        metrics = evaluate_model(model, data.val, device, cfg.batch_size, None, cfg.num_workers)["grid"]
        lr = opt.param_groups[0]["lr"]
        if cfg.scheduler == "plateau" and engine.state.epoch >= cfg.warmup_epochs:
            sched.step(metrics["map"])
        record = {"split": "val", "epoch": engine.state.epoch, "iteration": engine.state.iteration,
                  "loss": float(engine.state.output), "lr": lr, **metrics, "eval_seconds": time.time() - start}
        logger.log(record, engine.state.iteration)
        logger.print(metrics_table([record], title=f"epoch {engine.state.epoch}/{cfg.epochs}"))
        improved = metrics["map"] > best["map"]
        if improved:
            best["map"] = metrics["map"]
        if early:
            engine.state.metrics = metrics
            early(engine)
        if rank == 0:
            state = _state(model, opt, sched, trainer, early, best["map"], cfg, data, "last")
            if improved:
                atomic_save({**state, "kind": "best"}, run_dir / "best.pt")
            atomic_save(state, last_path)
        out_of_time = bool(time_limit) and time.time() - started > time_limit
        if world > 1:  # rank 0 decides, or the ranks would disagree and wait for each other forever
            out_of_time = bool(idist.broadcast(torch.tensor(int(out_of_time)), src=0).item())
        if out_of_time:
            logger.print(f"[yellow]time limit of {time_limit:.0f} s reached[/]; stopping after epoch {engine.state.epoch}")
            engine.terminate()

    try:
        trainer.run(loader, max_epochs=cfg.epochs)
    finally:
        logger.stop()
    if rank == 0:
        logger.print(f"[green]training done[/]: epoch {trainer.state.epoch}, iteration {trainer.state.iteration}, best val mAP {best['map']:.4f}")
    digests = [parameter_digest(model)]
    if world > 1:
        digests = list(idist.all_gather(digests[0]))
        idist.barrier()  # rank 0 has finished writing best.pt
    if rank == 0 and len(set(digests)) > 1:
        logger.print(f"[red]warning[/]: the {world} processes ended with different parameters")
    if (run_dir / "best.pt").is_file():
        unwrap(model).load_state_dict(load_checkpoint(run_dir / "best.pt")["model"])
    results = evaluate_model(model, data.test, device, cfg.batch_size, data.to_mesh, cfg.num_workers)
    if rank == 0:
        rows = [{"split": f"test ({k})", **v} for k, v in results.items()]
        for r in rows:
            logger.log({**r, "epoch": trainer.state.epoch}, trainer.state.iteration)
        logger.print(metrics_table(rows, title="test metrics (best checkpoint)"))
        report = {"config": cfg.to_dict(), "epochs_run": trainer.state.epoch, "iterations": trainer.state.iteration,
                  "best_val_map": best["map"], "test": results,
                  "distributed": {"world_size": world, "backend": idist.backend(), "parameter_sha256": digests}}
        atomic_write_bytes(run_dir / "test_metrics.json", json.dumps(report, indent=2, default=str).encode())
    logger.close()


def read_run_config(run_dir: Path) -> TrainConfig:
    """The effective configuration saved in a run folder."""
    import yaml

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ValueError(f"{run_dir} holds no config.yaml; it is not a climate-seg run folder.")
    return config_from_dict(yaml.safe_load(path.read_text()))


def write_run_config(cfg: TrainConfig) -> None:
    """Save the effective configuration in the run folder (without transient flags)."""
    extra = {k: v for k, v in cfg.extra.items() if k != "resume"}
    save_config(config_from_dict({**cfg.to_dict(), "extra": extra}), Path(cfg.out) / "config.yaml")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    import random

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds the global state third-party code may use
    torch.manual_seed(seed)

"""Training with pytorch-ignite: one process, or ``DistributedDataParallel`` (NCCL over GPUs,
gloo over CPU processes) through ``ignite.distributed``.

With several processes the training set is sharded by a padded ``DistributedSampler``
(equal step counts on every rank, as DDP needs) and gradients are averaged by DDP during
``backward``. Evaluation (:mod:`climate_seg.evaluation`) shards the split *without*
padding and sums the metric accumulators over ranks.

SIGTERM and SIGINT (pre-emption, Ctrl-C) are turned into a checkpoint at the end of the
current iteration (``last.pt``; all ranks stop at the same iteration) and a
:class:`TrainingInterrupted` error; ``--resume`` continues from there exactly. DataLoader
workers leave these signals to the training process
(:func:`climate_seg.pipeline.loader_worker_init`), so a signal to the whole process group
(Ctrl-C, SLURM) is handled the same way.
"""

from __future__ import annotations

import copy
import gc
import json
import logging
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from ignite.handlers import EarlyStopping, TerminateOnNan
from torch.utils.data import DataLoader

from .._io import atomic_save, atomic_write_bytes, load_checkpoint
from ..config import TrainConfig, config_from_dict, save_config
from ..evaluation import evaluate_model
from ..models import build_model
from ..pipeline import loader_worker_init
from .data_setup import PreparedData, class_weights, prepare_data
from .distributed import parameter_digest, sync_buffers, unwrap, wrap_ddp
from .logging import RunLogger, metrics_table
from .sampler import ResumableSampler

__all__ = [
    "TrainingInterrupted",
    "evaluate_model",
    "forward_signals",
    "read_run_config",
    "train_worker",
    "write_run_config",
]


class TrainingInterrupted(RuntimeError):
    """Training stopped on SIGTERM/SIGINT after writing ``last.pt``.

    Attributes
    ----------
    signum : int
        The signal received.
    """

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _NotInterrupted(logging.Filter):
    """Drop ignite's "Engine run is terminating due to exception" record of a :class:`TrainingInterrupted`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return " received: stopped at epoch " not in record.getMessage()


@contextmanager
def _signal_handler(handler: Callable[[int, Any], None]) -> Iterator[None]:
    """Install ``handler`` for SIGTERM/SIGINT and restore the previous handlers on exit.

    Outside the main thread (where handlers cannot be installed) nothing is installed.
    """
    try:
        previous = {s: signal.getsignal(s) for s in _SIGNALS}
        for s in _SIGNALS:
            signal.signal(s, handler)
    except ValueError:  # pragma: no cover - not the main thread
        yield
        return
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _catch_signals(flag: dict[str, int]) -> AbstractContextManager[None]:
    """Record SIGTERM/SIGINT in ``flag["signum"]`` instead of dying (a second SIGINT interrupts at once)."""

    def handler(signum: int, frame: Any) -> None:
        if flag["signum"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag["signum"] = signum

    return _signal_handler(handler)


def forward_signals() -> AbstractContextManager[None]:
    """In a launcher process: pass SIGTERM/SIGINT on to the spawned training processes."""

    def handler(signum: int, frame: Any) -> None:
        for child in multiprocessing.active_children():
            try:
                os.kill(child.pid, signum)  # type: ignore[arg-type]
            except OSError:  # pragma: no cover - already gone
                pass

    return _signal_handler(handler)


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
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        drop_last=False,
        pin_memory=pin,
        persistent_workers=False,
        worker_init_fn=loader_worker_init if workers else None,  # the signals are ours to handle
    )


def _state(
    model: torch.nn.Module,
    opt: Any,
    sched: Any,
    trainer: Engine,
    early: Any,
    extra: dict[str, Any],
    cfg: TrainConfig,
    data: PreparedData,
    kind: str,
) -> dict[str, Any]:
    module = unwrap(model)
    return {
        "model": module.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict() if sched else None,
        "trainer": trainer.state_dict(),
        "early_stopping": early.state_dict() if early else None,
        "best_map": extra["best_map"],
        "epoch_loss": list(extra["epoch_loss"]),
        "finished": False,
        "rng": torch.get_rng_state(),
        "config": cfg.to_dict(),
        "kind": kind,
        "grid": {
            "sampling": cfg.sampling,
            "resolution": cfg.grid_resolution,
            "n_vertices": data.grid.n_vertices,
        },
        "mean": data.mean,
        "std": data.std,
        "class_counts": data.class_counts,
    }


def train_worker(local_rank: int, cfg: TrainConfig) -> None:
    """Train one run; called once per process by :func:`~.distributed.launch`.

    Rank 0 writes the checkpoints, ``metrics.jsonl`` and ``test_metrics.json`` (whose
    ``distributed`` entry lists the world size, backend and every rank's parameter digest
    at the end of training: equal digests prove that the ranks stayed in sync).
    """
    try:
        _train(cfg)
    finally:
        if idist.get_world_size() > 1:
            # The engine's handlers keep the DDP model in reference cycles; free its reducer while the
            # process group still exists (ignite destroys the group right after this function returns;
            # a DDP object collected later aborts the process).
            gc.collect()
    if idist.get_world_size() > 1:
        idist.barrier()


def _train(cfg: TrainConfig) -> None:
    """The body of :func:`train_worker` (one process)."""
    rank, world = idist.get_rank(), idist.get_world_size()
    device = _device(cfg)
    run_dir = Path(cfg.out)
    last_path = run_dir / "last.pt"
    resume = bool(cfg.extra.get("resume")) and last_path.is_file()
    ckpt = load_checkpoint(last_path) if resume else None
    stats = None
    if ckpt is not None and "class_counts" in ckpt:
        stats = (ckpt["mean"], ckpt["std"], ckpt["class_counts"])
    data = prepare_data(cfg, stats)
    model = build_model(cfg, data.grid).to(device)
    if ckpt:
        if ckpt["grid"]["n_vertices"] != data.grid.n_vertices:
            raise ValueError(
                "the checkpoint was trained on another sampling; resume with the run's own settings."
            )
        model.load_state_dict(ckpt["model"])
    model = wrap_ddp(
        model
    )  # DDP when world > 1: rank 0's weights broadcast, gradients averaged in backward
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    weights = class_weights(cfg.class_weights, data.class_counts)
    criterion = torch.nn.CrossEntropyLoss(
        weight=weights.to(device) if weights is not None else None
    )
    sampler = ResumableSampler(
        len(data.train), seed=cfg.seed, shuffle=True, rank=rank, world_size=world
    )
    loader = _loader(data.train, cfg.batch_size, sampler, cfg.num_workers)
    epoch_length = -(-len(sampler) // cfg.batch_size)
    warm_iters = cfg.warmup_epochs * epoch_length
    if cfg.scheduler == "cosine":
        sched: Any = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=max(1, cfg.epochs * epoch_length - warm_iters)
        )
    else:
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=2)
    stop = {"signum": 0}

    def step(engine: Engine, batch: Any) -> float:
        model.train()
        x, y, _ = batch
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss = criterion(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.detach().float()
        if world > 1:
            # every rank sees the mean loss (a NaN on one rank stops all ranks at the same
            # iteration) and whether any rank was asked to stop (all stop at this iteration)
            both = idist.all_reduce(
                torch.stack([value.to(device), torch.tensor(float(stop["signum"]), device=device)])
            )
            assert isinstance(both, torch.Tensor)
            value = both[0] / world
            if both[1].item() and not stop["signum"]:
                stop["signum"] = int(signal.SIGTERM)
        return value.item()

    trainer = Engine(step)
    trainer.logger.addFilter(_NotInterrupted())  # the interruption is reported once, by the command
    early = (
        EarlyStopping(cfg.patience, lambda e: e.state.metrics["map"], trainer)
        if cfg.patience > 0
        else None
    )
    logger = RunLogger(run_dir, enabled=rank == 0)
    extra: dict[str, Any] = {"best_map": -math.inf, "epoch_loss": [0.0, 0]}
    if ckpt:
        trainer.load_state_dict(ckpt["trainer"])
        opt.load_state_dict(ckpt["optimizer"])
        if ckpt["scheduler"]:
            sched.load_state_dict(ckpt["scheduler"])
        if early and ckpt["early_stopping"] and not cfg.extra.get("extend"):
            early.load_state_dict(ckpt["early_stopping"])
        extra["best_map"] = ckpt["best_map"]
        extra["epoch_loss"] = list(ckpt.get("epoch_loss", [0.0, 0]))
        torch.set_rng_state(ckpt["rng"])
        saved = config_from_dict(ckpt["config"])
        for g in opt.param_groups:  # settings applied on resume (logged by `train`)
            if cfg.lr != saved.lr:
                g["lr"] = cfg.lr
                g["initial_lr"] = cfg.lr
            g["weight_decay"] = cfg.weight_decay
        if cfg.scheduler == "cosine":
            sched.base_lrs = [cfg.lr for _ in opt.param_groups]
            sched.T_max = max(1, cfg.epochs * epoch_length - warm_iters)
        it = trainer.state.iteration
        sampler.set_epoch(it // epoch_length, (it % epoch_length) * cfg.batch_size)
        logger.print(
            f"[bold]resuming[/] {run_dir} at epoch {it // epoch_length + 1}, iteration {it}"
        )
    time_limit = float(cfg.extra.get("time_limit_s", 0) or 0)
    started = time.time()
    window = {
        "t": time.perf_counter(),
        "loss": 0.0,
        "n": 0,
        "epoch_t": time.perf_counter(),
        "epoch_samples": 0,
    }

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
        if done == 0:
            extra["epoch_loss"] = [0.0, 0]
        window.update(
            t=time.perf_counter(), loss=0.0, n=0, epoch_t=time.perf_counter(), epoch_samples=0
        )
        logger.start_epoch(engine.state.epoch, epoch_length, done)

    def samples_in(batch: Any) -> int:
        return int(batch[0].shape[0]) * world

    @trainer.on(Events.ITERATION_COMPLETED)
    def after_iteration(engine: Engine) -> None:
        loss = float(engine.state.output)  # type: ignore[arg-type]
        logger.step(loss)
        extra["epoch_loss"][0] += loss
        extra["epoch_loss"][1] += 1
        window["loss"] += loss
        window["n"] += 1
        n_samples = samples_in(engine.state.batch)
        window["samples"] = window.get("samples", 0) + n_samples
        window["epoch_samples"] += n_samples
        it = engine.state.iteration
        if cfg.log_every and it % cfg.log_every == 0:
            elapsed = max(time.perf_counter() - window["t"], 1e-9)
            logger.log(
                {
                    "split": "train",
                    "epoch": engine.state.epoch,
                    "iteration": it,
                    "loss": window["loss"] / window["n"],
                    "lr": opt.param_groups[0]["lr"],
                    "samples_per_s": window["samples"] / elapsed,
                },
                it,
            )
            window.update(t=time.perf_counter(), loss=0.0, n=0, samples=0)
        if stop["signum"]:
            if rank == 0:
                atomic_save(
                    _state(model, opt, sched, trainer, early, extra, cfg, data, "last"), last_path
                )
            if world > 1:
                idist.barrier()
            name = signal.Signals(stop["signum"]).name
            raise TrainingInterrupted(
                f"{name} received: stopped at epoch {engine.state.epoch}, iteration {it}, checkpoint {last_path}; "
                f"continue with `climate-seg train --out {run_dir} --resume`.",
                stop["signum"],
            )
        if cfg.checkpoint_every and it % cfg.checkpoint_every == 0 and rank == 0:
            atomic_save(
                _state(model, opt, sched, trainer, early, extra, cfg, data, "last"), last_path
            )

    trainer.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan())

    @trainer.on(Events.EPOCH_COMPLETED)
    def validate(engine: Engine) -> None:
        logger.stop()
        epoch_seconds = time.perf_counter() - window["epoch_t"]
        lr = opt.param_groups[0]["lr"]
        total, count = extra["epoch_loss"]
        logger.log(
            {
                "split": "train_epoch",
                "epoch": engine.state.epoch,
                "iteration": engine.state.iteration,
                "loss": total / max(count, 1),
                "lr": lr,
                "samples_per_s": window["epoch_samples"] / max(epoch_seconds, 1e-9),
            },
            engine.state.iteration,
        )
        sampler.set_epoch(engine.state.epoch)
        sync_buffers(
            model
        )  # evaluate (and checkpoint) rank 0's batch-norm statistics on every rank
        start = time.time()
        metrics = evaluate_model(model, data.val, device, cfg.batch_size, None, cfg.num_workers)[
            "grid"
        ]
        if cfg.scheduler == "plateau" and engine.state.epoch >= cfg.warmup_epochs:
            sched.step(metrics["map"])
        record = {
            "split": "val",
            "epoch": engine.state.epoch,
            "iteration": engine.state.iteration,
            "train_loss": total / max(count, 1),
            "lr": lr,
            **metrics,
            "eval_seconds": time.time() - start,
        }
        logger.log(record, engine.state.iteration)
        logger.print(metrics_table([record], title=f"epoch {engine.state.epoch}/{cfg.epochs}"))
        improved = metrics["map"] > extra["best_map"] if not math.isnan(metrics["map"]) else False
        if improved:
            extra["best_map"] = metrics["map"]
        if early:
            engine.state.metrics = {
                **metrics,
                "map": metrics["map"] if not math.isnan(metrics["map"]) else -math.inf,
            }
            early(engine)
        if rank == 0:
            state = _state(model, opt, sched, trainer, early, extra, cfg, data, "last")
            if improved or not (run_dir / "best.pt").is_file():
                atomic_save({**state, "kind": "best"}, run_dir / "best.pt")
            atomic_save(state, last_path)
        out_of_time = bool(time_limit) and time.time() - started > time_limit
        if world > 1:  # rank 0 decides, or the ranks would disagree and wait for each other forever
            decided = idist.broadcast(torch.tensor(int(out_of_time)), src=0)
            out_of_time = (
                bool(decided.item()) if isinstance(decided, torch.Tensor) else bool(decided)
            )
        if out_of_time:
            logger.print(
                f"[yellow]time limit of {time_limit:.0f} s reached[/]; stopping after epoch {engine.state.epoch}"
            )
            engine.terminate()

    try:
        with _catch_signals(stop):
            trainer.run(loader, max_epochs=cfg.epochs)
    finally:
        logger.stop()
    # a deep copy: state_dict() tensors alias the parameters, which loading best.pt below overwrites
    final = (
        copy.deepcopy(_state(model, opt, sched, trainer, early, extra, cfg, data, "last"))
        if rank == 0
        else None
    )
    if rank == 0:
        logger.print(
            f"[green]training done[/]: epoch {trainer.state.epoch}, iteration {trainer.state.iteration}, "
            f"best val mAP {extra['best_map']:.4f}"
        )
    digests = [parameter_digest(model)]
    if world > 1:
        digests = [str(d) for d in idist.all_gather(digests[0])]  # type: ignore[union-attr]
        idist.barrier()  # rank 0 has finished writing best.pt
    if rank == 0 and len(set(digests)) > 1:
        logger.print(f"[red]warning[/]: the {world} processes ended with different parameters")
    if (run_dir / "best.pt").is_file():
        unwrap(model).load_state_dict(load_checkpoint(run_dir / "best.pt")["model"])
    results = evaluate_model(
        model, data.test, device, cfg.batch_size, data.transform, cfg.num_workers
    )
    if rank == 0:
        rows = [{"split": f"test ({k})", **v} for k, v in results.items()]
        for r in rows:
            logger.log({**r, "epoch": trainer.state.epoch}, trainer.state.iteration)
        logger.print(metrics_table(rows, title="test metrics (best checkpoint)"))
        report = {
            "config": cfg.to_dict(),
            "epochs_run": trainer.state.epoch,
            "iterations": trainer.state.iteration,
            "best_val_map": extra["best_map"],
            "test": results,
            "distributed": {
                "world_size": world,
                "backend": idist.backend(),
                "parameter_sha256": digests,
            },
        }
        atomic_write_bytes(
            run_dir / "test_metrics.json", json.dumps(report, indent=2, default=str).encode()
        )
        assert final is not None
        atomic_save({**final, "finished": True}, last_path)
    logger.close()


def read_run_config(run_dir: Path) -> TrainConfig:
    """The effective configuration saved in a run folder."""
    import yaml

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ValueError(f"{run_dir} holds no config.yaml; it is not a climate-seg run folder.")
    return config_from_dict(yaml.safe_load(path.read_text()) or {})


def write_run_config(cfg: TrainConfig) -> None:
    """Save the effective configuration in the run folder (without transient settings)."""
    extra = {k: v for k, v in cfg.extra.items() if k not in ("resume", "extend")}
    save_config(config_from_dict({**cfg.to_dict(), "extra": extra}), Path(cfg.out) / "config.yaml")

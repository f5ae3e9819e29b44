"""Run logging: rich progress and tables on the console, ``metrics.jsonl``, TensorBoard."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

__all__ = ["RunLogger", "metrics_table"]

SHOWN = {
    "epoch": "epoch",
    "split": "split",
    "loss": "loss",
    "ap_tc": "AP TC",
    "ap_ar": "AP AR",
    "map": "mAP",
    "mean_accuracy": "mean acc",
    "iou_tc": "IoU TC",
    "iou_ar": "IoU AR",
    "lr": "lr",
}


def metrics_table(rows: list[dict[str, Any]], title: str = "metrics") -> Table:
    """A rich table of metric dictionaries (one row each; columns of ``SHOWN`` present)."""
    table = Table(title=title, title_justify="left")
    keys = [k for k in SHOWN if any(k in r for r in rows)]
    for k in keys:
        table.add_column(SHOWN[k], justify="right", no_wrap=True)
    for r in rows:
        cells = []
        for k in keys:
            v = r.get(k, "")
            if k == "lr" and isinstance(v, float):
                cells.append(f"{v:.1e}")
            else:
                cells.append(f"{v:.4f}" if isinstance(v, float) and math.isfinite(v) else str(v))
        table.add_row(*cells)
    return table


#: Record keys that are not logged as TensorBoard scalars (x-axis values and counts).
NOT_SCALARS = ("epoch", "iteration", "n_vertices")


def summary_writer(log_dir: Path) -> Any:
    """A ``torch.utils.tensorboard.SummaryWriter`` on ``log_dir``, or None when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is the optional extra climate-seg[tensorboard]
        return None
    return SummaryWriter(str(log_dir))


def wide_console(stderr: bool = False) -> Console:
    """A console that does not squeeze tables to 80 columns when the output is not a terminal."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=120)


class RunLogger:
    """Console progress (rank 0), JSON-lines metrics and optional TensorBoard scalars.

    Every record passed to :meth:`log` becomes one line of ``metrics.jsonl`` and, when
    tensorboard is importable, scalars ``<split>/<key>`` (e.g. ``val/map``,
    ``test_grid/ap_tc``) at step = training iteration under ``<run_dir>/tb``.

    Parameters
    ----------
    run_dir : Path
        Run folder; ``metrics.jsonl`` is appended there.
    enabled : bool
        False on ranks other than 0 (nothing is printed or written).
    console : Console, optional
    """

    def __init__(self, run_dir: Path, enabled: bool = True, console: Console | None = None) -> None:
        self.run_dir, self.enabled = Path(run_dir), enabled
        self.console = console or wide_console()
        self.progress: Progress | None = None
        self.task: Any = None
        self.tb: Any = None
        if enabled:
            self.tb = summary_writer(self.run_dir / "tb")

    def start_epoch(self, epoch: int, total: int, done: int = 0) -> None:
        """Show a progress bar for one epoch."""
        if not self.enabled:
            return
        if self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]epoch {task.fields[epoch]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(
            "train", total=total, completed=done, epoch=epoch, loss="-"
        )

    def step(self, loss: float) -> None:
        if self.enabled and self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1, loss=f"{loss:.4f}")

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
            self.task = None

    def log(self, record: dict[str, Any], step: int) -> None:
        """Append one record to ``metrics.jsonl`` and TensorBoard."""
        if not self.enabled:
            return
        with open(self.run_dir / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps(record, allow_nan=True) + "\n")
        if self.tb is not None:
            split = re.sub(r"\W+", "_", str(record.get("split", "train"))).strip("_")
            for k, v in record.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in NOT_SCALARS:
                    self.tb.add_scalar(f"{split}/{k}", float(v), step)
            self.tb.flush()

    def print(self, *args: Any) -> None:
        if self.enabled:
            self.console.print(*args)

    def close(self) -> None:
        self.stop()
        if self.tb is not None:
            self.tb.close()

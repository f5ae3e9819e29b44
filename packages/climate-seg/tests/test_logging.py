"""TensorBoard scalars: written through SummaryWriter when importable, skipped silently otherwise."""

from __future__ import annotations

import json
import sys
import types
from typing import ClassVar

import pytest
from climate_seg.cli import app
from climate_seg.training._toy import write_toy_set
from climate_seg.training.logging import RunLogger
from typer.testing import CliRunner

TINY = [
    "--resolution",
    "2",
    "--width-scale",
    "0.25",
    "--batch-size",
    "2",
    "--seed",
    "3",
    "--epochs",
    "2",
]


class FakeWriter:
    """Records what a ``SummaryWriter`` would write."""

    instances: ClassVar[list[FakeWriter]] = []

    def __init__(self, log_dir: str) -> None:
        self.log_dir, self.scalars, self.flushes, self.closed = log_dir, [], 0, False
        FakeWriter.instances.append(self)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_tensorboard(monkeypatch):
    module = types.ModuleType("torch.utils.tensorboard")
    module.SummaryWriter = FakeWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", module)
    FakeWriter.instances = []
    return FakeWriter


def test_training_writes_tensorboard_scalars(fake_tensorboard, tmp_path):
    data = tmp_path / "data"
    write_toy_set(data, n_files=12, level=2, seed=1)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, [str(a) for a in ["train", "--data", data, "--out", out, *TINY]]
    )
    assert result.exit_code == 0, result.output
    assert len(fake_tensorboard.instances) == 1
    writer = fake_tensorboard.instances[0]
    # 2 x (train_epoch + val) + test; no per-iteration record (log-every 50 > 8 iterations)
    assert writer.log_dir == str(out / "tb") and writer.closed and writer.flushes == 5
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in records if r["split"] == "val"]
    got = {(tag, step): value for tag, value, step in writer.scalars}
    for r in val:  # every validation metric at the iteration it was measured
        for key in ("train_loss", "lr", "map", "ap_tc", "ap_ar", "mean_accuracy", "iou_ar"):
            assert got[(f"val/{key}", r["iteration"])] == pytest.approx(r[key], nan_ok=True), key
    test = next(r for r in records if r["split"] == "test (grid)")
    assert got[("test_grid/map", val[-1]["iteration"])] == pytest.approx(
        test["map"], nan_ok=True
    )  # at the last step
    tags = {tag for tag, _, _ in writer.scalars}
    assert not {t for t in tags if t.endswith(("/epoch", "/iteration", "/n_vertices"))}
    assert all(isinstance(v, float) for _, v, _ in writer.scalars)
    assert [s for t, _, s in writer.scalars if t == "val/map"] == [r["iteration"] for r in val]
    epochs = [r for r in records if r["split"] == "train_epoch"]
    for r in epochs:  # the training loss, learning rate and throughput per epoch
        for key in ("loss", "lr", "samples_per_s"):
            assert got[(f"train_epoch/{key}", r["iteration"])] == pytest.approx(r[key]), key


def test_without_tensorboard_logging_is_skipped_silently(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import raises ImportError
    logger = RunLogger(tmp_path, enabled=True)
    assert logger.tb is None
    logger.log({"split": "val", "epoch": 1, "iteration": 4, "map": 0.5}, 4)
    logger.close()
    assert json.loads((tmp_path / "metrics.jsonl").read_text())["map"] == 0.5
    assert not (tmp_path / "tb").exists()


def test_other_ranks_write_nothing(fake_tensorboard, tmp_path):
    logger = RunLogger(tmp_path, enabled=False)
    logger.log({"split": "val", "map": 0.5}, 1)
    logger.close()
    assert fake_tensorboard.instances == [] and not (tmp_path / "metrics.jsonl").exists()

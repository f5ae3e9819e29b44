"""Training runs on tiny sets: outputs, exact resume after SIGKILL, DDP with 2 CPU processes (gloo)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from climate_seg.cli import app
from climate_seg.config import config_from_dict
from climate_seg.models import build_model, sampling_for
from climate_seg.training._toy import write_toy_set
from climate_seg.training.distributed import constant_buffer_names, parameter_digest
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
    "--warmup-epochs",
    "1",
]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy") / "data"
    write_toy_set(folder, n_files=12, level=2, seed=1)
    return folder


def run(args, **kwargs):
    result = CliRunner().invoke(app, [str(a) for a in args], **kwargs)
    return result


def test_train_writes_run_folder(toy, tmp_path):
    out = tmp_path / "run"
    result = run(["train", "--data", toy, "--out", out, "--epochs", "2", "--log-every", "2", *TINY])
    assert result.exit_code == 0, result.output
    for name in ("last.pt", "best.pt", "config.yaml", "metrics.jsonl", "test_metrics.json"):
        assert (out / name).is_file(), name
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["split"] == "val"] == [1, 2]
    # training loss every N iterations and per epoch, with the learning rate and throughput
    steps = [r for r in records if r["split"] == "train"]
    epochs = [r for r in records if r["split"] == "train_epoch"]
    assert [r["iteration"] for r in steps] == [2, 4, 6, 8] and [r["epoch"] for r in epochs] == [
        1,
        2,
    ]
    for r in steps + epochs:
        assert r["loss"] > 0 and r["lr"] > 0 and r["samples_per_s"] > 0
    assert epochs[0]["lr"] == pytest.approx(3e-3)  # end of the 1-epoch warm-up
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = EventAccumulator(str(out / "tb")).Reload().Tags()["scalars"]
    assert {"train/loss", "train/lr", "train/samples_per_s", "train_epoch/loss", "val/map"} <= set(
        tags
    )
    report = json.loads((out / "test_metrics.json").read_text())
    assert set(report["test"]["grid"]) >= {"ap_tc", "ap_ar", "map", "mean_accuracy"}
    ckpt = torch.load(out / "last.pt", weights_only=False)
    assert {"model", "optimizer", "scheduler", "trainer", "rng"} <= set(ckpt)
    assert ckpt["trainer"]["iteration"] == 2 * ckpt["trainer"]["epoch_length"]
    # a second start on the same folder must not overwrite it
    again = run(["train", "--data", toy, "--out", out, "--epochs", "2", *TINY])
    assert again.exit_code == 1 and "--resume" in again.output


def _cli(*args):
    """``climate-seg`` in a fresh interpreter (as a user runs it)."""
    return [sys.executable, "-m", "climate_seg.cli", *map(str, args)]


def _iteration(path):
    try:
        return torch.load(path, weights_only=False)["trainer"]["iteration"]
    except (OSError, RuntimeError, EOFError, KeyError):  # not written yet (writes are atomic)
        return None


def test_resume_after_sigkill_mid_epoch(tmp_path):
    """SIGKILL a real ``climate-seg train`` mid-epoch 2, resume, and compare with an uninterrupted run."""
    data = tmp_path / "data"
    write_toy_set(
        data, n_files=16, level=5, seed=1
    )  # 11 train files: 11 iterations per epoch at batch 1
    common = [
        "--data",
        data,
        "--epochs",
        "3",
        "--checkpoint-every",
        "1",
        "--patience",
        "0",
        "--resolution",
        "5",
        "--width-scale",
        "0.25",
        "--batch-size",
        "1",
        "--seed",
        "3",
        "--warmup-epochs",
        "1",
    ]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        _cli("train", "--out", killed, *common), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            it = _iteration(killed / "last.pt")
            if it is not None and it >= 13:  # 2 iterations into epoch 2
                break
            time.sleep(0.002)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    ckpt = torch.load(killed / "last.pt", weights_only=False)
    it, epoch_length = ckpt["trainer"]["iteration"], ckpt["trainer"]["epoch_length"]
    assert epoch_length == 11 and epoch_length < it < 2 * epoch_length, it  # killed mid-epoch 2
    # a kill during a save may leave the temporary file of that save (never a truncated
    # last.pt, loaded above); the resumed run removes it
    stale = list(killed.glob(".*.tmp"))
    val = [json.loads(x) for x in (killed / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in val if r["split"] == "val"] == [1]

    done = subprocess.run(
        _cli("train", "--out", killed, "--resume", *common),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not list(killed.glob(".*.tmp"))
    if stale:
        assert "half-written" in " ".join(done.stdout.split())
    assert f"at epoch 2, iteration {it}" in " ".join(done.stdout.split()), done.stdout[
        -2000:
    ]  # rich may wrap
    records = [
        json.loads(x) for x in (killed / "metrics.jsonl").read_text().splitlines()
    ]  # every line is JSON
    assert [r["epoch"] for r in records if r["split"] == "val"] == [1, 2, 3]
    assert [r["iteration"] for r in records if r["split"] == "val"] == [11, 22, 33]
    assert [r["split"] for r in records if r["split"].startswith("test")] == ["test (grid)"]
    resumed = torch.load(killed / "last.pt", weights_only=False)
    assert resumed["trainer"]["iteration"] == 3 * epoch_length
    assert json.loads((killed / "test_metrics.json").read_text())["epochs_run"] == 3

    full = tmp_path / "full"  # the same run without interruption gives the same weights
    assert run(["train", "--out", full, *common]).exit_code == 0
    reference = torch.load(full / "last.pt", weights_only=False)["model"]
    for key, value in reference.items():
        assert torch.allclose(value.float(), resumed["model"][key].float(), atol=1e-6), key


def test_two_cpu_processes_run_ddp_and_stay_in_sync(toy, tmp_path):
    out = tmp_path / "ddp"
    result = run(["train", "--data", toy, "--out", out, "--epochs", "2", "--nproc", "2", *TINY])
    assert result.exit_code == 0, result.output
    ckpt = torch.load(out / "last.pt", weights_only=False)
    assert ckpt["trainer"]["epoch_length"] == 2  # 8 training files / (2 processes x batch 2)
    report = json.loads((out / "test_metrics.json").read_text())
    dist = report["distributed"]
    assert dist["world_size"] == 2 and dist["backend"] == "gloo"
    digests = dist["parameter_sha256"]
    assert len(digests) == 2 and digests[0] == digests[1]  # DDP kept both ranks identical
    cfg = config_from_dict(report["config"])
    model = build_model(cfg, sampling_for("icosahedral", 2))
    initial = parameter_digest(model)
    model.load_state_dict(ckpt["model"])  # rank 0's final weights, as checkpointed
    assert parameter_digest(model) == digests[0] != initial


def test_ddp_ignores_only_the_constant_operator_buffers():
    """Non-persistent operator buffers are left out of DDP's broadcasts; batch-norm statistics are not."""
    model = build_model(
        config_from_dict({"resolution": 2, "width_scale": 0.25}), sampling_for("icosahedral", 2)
    )
    ignored = set(constant_buffer_names(model))
    buffers = dict(model.named_buffers())
    assert ignored and ignored < set(buffers)
    assert any(n.endswith(".val") for n in ignored) and any(n.endswith(".crow") for n in ignored)
    assert not {n for n in ignored if "running_" in n or "num_batches" in n}
    assert not set(model.state_dict()) & ignored  # none of them is ever saved
    assert any("running_mean" in n for n in set(buffers) - ignored)


def test_distributed_evaluation_counts_every_sample_once(tmp_path):
    """2 processes, odd split sizes: metrics equal a 1-process evaluation of the same checkpoint."""
    from climate_seg.data import make_split

    data = tmp_path / "data"
    write_toy_set(data, n_files=26, level=2, seed=6)  # split 18 / 3 / 5
    out = tmp_path / "run"
    result = run(
        [
            "train",
            "--data",
            data,
            "--out",
            out,
            "--epochs",
            "1",
            "--nproc",
            "2",
            *TINY,
            "--batch-size",
            "1",
        ]
    )
    assert result.exit_code == 0, result.output
    _, val_files, test_files = make_split(sorted(data.glob("*.npz")), "time", seed=3)
    assert len(val_files) % 2 == 1 and len(test_files) % 2 == 1
    val = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if '"val"' in x]
    assert val[0]["n_vertices"] == len(val_files) * 162
    ddp = json.loads((out / "test_metrics.json").read_text())["test"]["grid"]
    assert ddp["n_vertices"] == len(test_files) * 162  # no padded sample counted twice
    single = run(
        [
            "evaluate",
            out,
            "--data",
            data,
            "--split",
            "test",
            "--batch-size",
            "1",
            "--report",
            tmp_path / "e.json",
        ]
    )
    assert single.exit_code == 0, single.output
    ref = json.loads((tmp_path / "e.json").read_text())["metrics"]["grid"]
    assert ref["n_vertices"] == ddp["n_vertices"]
    for key in ("accuracy", "mean_accuracy", "iou_tc", "iou_ar", "recall_tc", "recall_ar"):
        assert ddp[key] == pytest.approx(ref[key], abs=1e-12), key
    for key in ("ap_tc", "ap_ar", "map"):  # summed histograms (1e5 bins) vs exact scores
        assert ddp[key] == pytest.approx(ref[key], abs=2e-3), key


def test_same_seed_same_losses(toy, tmp_path):
    losses = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert run(["train", "--data", toy, "--out", out, "--epochs", "1", *TINY]).exit_code == 0
        records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        losses.append(
            [(r["ap_tc"], r["ap_ar"], r["train_loss"]) for r in records if r["split"] == "val"]
        )
    assert losses[0] == losses[1]


@pytest.mark.parametrize("mode", ["stack", "lstm"])
def test_temporal_models_train(tmp_path, mode):
    data = tmp_path / "data"
    write_toy_set(data, n_files=16, level=2, seed=4)
    out = tmp_path / mode
    result = run(
        [
            "train",
            "--data",
            data,
            "--out",
            out,
            "--epochs",
            "1",
            "--temporal",
            mode,
            "--sequence-length",
            "2",
            *TINY,
        ]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "test_metrics.json").read_text())["config"]["temporal"] == mode


def test_skip_bad_files(tmp_path):
    data = tmp_path / "data"
    files = write_toy_set(data, n_files=12, level=2, seed=5)
    files[3].write_bytes(b"PK\x03\x04 truncated")
    result = run(["train", "--data", data, "--out", tmp_path / "strict", "--epochs", "1", *TINY])
    assert result.exit_code == 1 and "Traceback" not in result.output
    result = run(
        [
            "train",
            "--data",
            data,
            "--out",
            tmp_path / "skip",
            "--epochs",
            "1",
            "--skip-bad-files",
            *TINY,
        ]
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("sampling", "resolution"), [("healpix", "4"), ("equiangular", "8")])
def test_other_samplings_report_grid_and_mesh_metrics(toy, tmp_path, sampling, resolution):
    out = tmp_path / sampling
    args = [
        "train",
        "--data",
        toy,
        "--out",
        out,
        "--epochs",
        "1",
        *TINY,
        "--sampling",
        sampling,
        "--resolution",
        resolution,
    ]
    result = run(args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "test_metrics.json").read_text())["test"]
    assert set(report) == {"grid", "mesh"}


def test_pipeline_learns_what_no_pixel_shows(tmp_path):
    """On frames whose classes only neighbourhoods decide, the trained U-Net beats the best
    per-pixel classifier by far (it learns something spatial)."""
    from climate_seg.data import read_sample, split_files
    from climate_seg.training._toy import write_spatial_toy_set
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    data = tmp_path / "data"
    files = write_spatial_toy_set(data, n_files=40, level=3, seed=0)
    out = tmp_path / "run"
    result = run(
        [
            "train",
            "--data",
            data,
            "--out",
            out,
            "--epochs",
            "15",
            "--resolution",
            "3",
            "--batch-size",
            "4",
            "--lr",
            "3e-3",
            "--class-weights",
            "1,3,2",
            "--patience",
            "0",
            "--seed",
            "0",
            "--split",
            "random",
        ]
    )
    assert result.exit_code == 0, result.output
    unet = json.loads((out / "test_metrics.json").read_text())["test"]["grid"]
    split = split_files(sorted(files), seed=0)
    xs, ys = zip(*(read_sample(f, n_vertices=642) for f in split.train), strict=True)
    fit = LogisticRegression(max_iter=500).fit(
        np.concatenate([x.T for x in xs]), np.concatenate(ys)
    )
    xt, yt = zip(*(read_sample(f, n_vertices=642) for f in split.test), strict=True)
    prob, yt = fit.predict_proba(np.concatenate([x.T for x in xt])), np.concatenate(yt)
    pixel = [average_precision_score(yt == c, prob[:, c]) for c in (1, 2)]
    print(
        f"U-Net AP TC {unet['ap_tc']:.3f} AR {unet['ap_ar']:.3f}; per-pixel AP TC {pixel[0]:.3f} AR {pixel[1]:.3f}"
    )
    assert max(pixel) < 0.75
    assert unet["ap_tc"] > pixel[0] + 0.2 and unet["ap_ar"] > pixel[1] + 0.2

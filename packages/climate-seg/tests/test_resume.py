"""Runs you can trust: SIGTERM and Ctrl-C (SIGINT) mid-epoch, resume in a moved folder with the saved
plan, finished runs, extension of a copy with continuous metrics, flags given with --resume, torchrun."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from climate_seg.cli import app
from climate_seg.training._toy import write_toy_set
from typer.testing import CliRunner

COMMON = [
    "--epochs",
    "3",
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
    "--log-every",
    "1",
]


def run(args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _cli(*args):
    """``climate-seg`` in a fresh interpreter (as a user runs it)."""
    return [sys.executable, "-m", "climate_seg", *map(str, args)]


def _records(folder):
    return [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]


def _last_logged_iteration(folder):
    try:
        lines = (folder / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return 0
    its = [
        json.loads(x).get("iteration", 0) for x in lines[:-1] if x
    ]  # the last line may be half-written
    return max(its, default=0)


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The toy data (time split: 11 train files, 11 iterations per epoch) and a run of COMMON on it
    without interruption, the reference of the interrupted-and-resumed runs."""
    root = tmp_path_factory.mktemp("resume")
    data = root / "data"
    write_toy_set(data, n_files=16, level=5, seed=1)
    full = root / "full"
    result = run(["train", "--data", data, "--out", full, *COMMON])
    assert result.exit_code == 0, result.output
    return data, full


def _signal_mid_run(data, out, signum, after_iteration):
    """Start ``climate-seg train`` with a loader worker in its own process group (as a shell's
    foreground job or a SLURM step), send ``signum`` to the group once ``after_iteration``
    iterations are logged, and return the run's stderr after checking the 128 + signum exit."""
    proc = subprocess.Popen(
        _cli("train", "--data", data, "--out", out, *COMMON, "--num-workers", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while (
            time.time() < deadline
            and proc.poll() is None
            and _last_logged_iteration(out) < after_iteration
        ):
            time.sleep(0.002)
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        os.killpg(proc.pid, signum)
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 128 + signum, err[-2000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stderr.close()
    return err


def _assert_same_weights(full, resumed):
    reference = torch.load(full / "last.pt", weights_only=False)
    final = torch.load(resumed / "last.pt", weights_only=False)
    assert final["trainer"]["iteration"] == reference["trainer"]["iteration"] and final["finished"]
    for key, value in reference["model"].items():
        assert torch.allclose(value.float(), final["model"][key].float(), atol=1e-6), key
    epoch_losses = [
        [r["loss"] for r in _records(f) if r["split"] == "train_epoch"] for f in (full, resumed)
    ]
    assert epoch_losses[1] == [pytest_approx(v) for v in epoch_losses[0]]  # spans the interruption


def test_sigterm_mid_epoch_then_resume_moved_folder_gives_the_uninterrupted_weights(
    tmp_path, uninterrupted
):
    """SLURM's pre-emption or time limit SIGTERMs every process of the job step: the training
    process and its DataLoader worker (which must leave the signal to it)."""
    data, full = uninterrupted
    killed = tmp_path / "killed"
    err = _signal_mid_run(data, killed, signal.SIGTERM, after_iteration=13)
    text = " ".join(err.split())
    assert "SIGTERM received" in text and f"climate-seg train --out {killed} --resume" in text, (
        text
    )  # the real folder
    ckpt = torch.load(killed / "last.pt", weights_only=False)
    it = ckpt["trainer"]["iteration"]
    assert 11 < it < 22 and not ckpt["finished"], (
        it
    )  # checkpoint at the current iteration, mid-epoch 2
    assert max(r["iteration"] for r in _records(killed)) == it
    assert not list(killed.glob(".*.tmp"))

    moved = tmp_path / "moved"
    shutil.move(killed, moved)  # a moved run folder resumes in place
    done = subprocess.run(
        _cli("train", "--out", moved, "--resume"), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not killed.exists()  # nothing written into the folder named in config.yaml
    records = _records(moved)
    assert [r["epoch"] for r in records if r["split"] == "val"] == [
        1,
        2,
        3,
    ]  # the saved plan: 3 epochs, not 12
    assert sorted(r["iteration"] for r in records if r["split"] == "train") == list(range(1, 34))
    assert torch.load(moved / "last.pt", weights_only=False)["trainer"]["iteration"] == 33
    _assert_same_weights(full, moved)  # epoch 2 spans the interruption

    # a finished run says so and changes nothing
    before = _files(moved)
    again = run(["train", "--out", moved, "--resume"])
    assert again.exit_code == 0 and "is finished" in again.output, again.output
    assert _files(moved) == before

    # a flag that changes the plan is refused, nothing is touched
    refused = run(["train", "--out", moved, "--resume", "--epochs", "4", "--batch-size", "2"])
    assert refused.exit_code == 1 and "batch_size 1 -> 2" in refused.output, refused.output
    assert _files(moved) == before

    # a copy extended with a larger --epochs and a new learning rate: in place, metrics continuous
    copy = tmp_path / "copy"
    shutil.copytree(moved, copy)
    result = run(["train", "--out", copy, "--resume", "--epochs", "4", "--lr", "1e-3"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "lr: 0.003 -> 0.001" in out and "epochs: 3 -> 4" in out
    assert _files(moved) == before  # the original is untouched
    records = _records(copy)
    val = [r for r in records if r["split"] == "val"]
    assert [r["epoch"] for r in val] == [1, 2, 3, 4] and [r["iteration"] for r in val] == [
        11,
        22,
        33,
        44,
    ]
    assert val[-1]["lr"] == 1e-3
    assert [r["split"] for r in records if r["split"].startswith("test")] == [
        "test (grid)",
        "test (grid)",
    ]
    assert json.loads((copy / "test_metrics.json").read_text())["epochs_run"] == 4


def pytest_approx(value):
    return pytest.approx(value, rel=1e-6, abs=1e-9)


def test_ctrl_c_mid_epoch_with_a_loader_worker_checkpoints_and_resumes_to_the_same_weights(
    tmp_path, uninterrupted
):
    """Ctrl-C in a terminal sends SIGINT to the whole foreground process group: the training
    process and its DataLoader worker. The run checkpoints the current iteration, names its
    folder, exits with 130, and the resumed run reaches the uninterrupted run's weights."""
    signum = signal.SIGINT
    data, full = uninterrupted
    out = tmp_path / "interrupted"
    err = _signal_mid_run(data, out, signum, after_iteration=4)
    text = " ".join(err.split())
    assert "Traceback" not in err, err[-3000:]
    name = signal.Signals(signum).name
    assert f"{name} received" in text and f"climate-seg train --out {out} --resume" in text, text
    ckpt = torch.load(out / "last.pt", weights_only=False)
    it = ckpt["trainer"]["iteration"]
    assert 4 <= it < 11 and not ckpt["finished"], it  # the current iteration, mid-epoch 1
    assert max(r["iteration"] for r in _records(out)) == it

    resumed = run(["train", "--out", out, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming {out} at epoch 1, iteration {it}" in " ".join(resumed.output.split())
    _assert_same_weights(full, out)


def test_torchrun_two_processes(tmp_path):
    data = tmp_path / "data"
    write_toy_set(data, n_files=12, level=2, seed=1)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "climate_seg",
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--epochs",
        "1",
        "--resolution",
        "2",
        "--width-scale",
        "0.25",
        "--batch-size",
        "2",
        "--seed",
        "3",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "test_metrics.json").read_text())
    dist = report["distributed"]
    assert dist["world_size"] == 2 and dist["backend"] == "gloo"
    assert len(dist["parameter_sha256"]) == 2 and len(set(dist["parameter_sha256"])) == 1
    assert (
        torch.load(out / "last.pt", weights_only=False)["trainer"]["epoch_length"] == 2
    )  # 8 files / (2 x 2)


def _loader_worker(ready):
    from climate_seg.pipeline import loader_worker_init

    loader_worker_init(0)
    ready.set()
    time.sleep(60)


@pytest.mark.skipif(not hasattr(signal, "sigwaitinfo"), reason="needs signal.sigwaitinfo")
def test_loader_workers_leave_signals_to_the_main_process_but_obey_it():
    """A group signal (sent by another process) leaves a loader worker running; SIGTERM from its
    parent (torch's shutdown of a worker that did not stop in time) ends it at once."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    ready = ctx.Event()
    worker = ctx.Process(target=_loader_worker, args=(ready,), daemon=True)
    worker.start()
    try:
        assert ready.wait(30)
        for sig in ("INT", "TERM"):  # from another process, as Ctrl-C or SLURM send them
            subprocess.run(["kill", f"-{sig}", str(worker.pid)], check=True)
        worker.join(1.0)
        assert worker.is_alive()
        worker.terminate()  # SIGTERM from the parent
        worker.join(10)
        assert worker.exitcode == 0
    finally:
        if worker.is_alive():
            worker.kill()


def test_stale_temporaries_of_an_interrupted_save_are_removed(tmp_path):
    """What SIGKILL during an atomic save leaves (``.<name>.<8 chars>.tmp``) is removed; other
    hidden files are not."""
    from climate_seg._io import atomic_write_bytes, remove_stale_temporaries

    atomic_write_bytes(tmp_path / "last.pt", b"complete")
    stale = tmp_path / ".last.pt.k2x_9qzb.tmp"
    stale.write_bytes(b"half")
    keep = [tmp_path / ".notes.tmp", tmp_path / ".last.pt.short.tmp", tmp_path / "x.tmp"]
    for path in keep:
        path.write_bytes(b"mine")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and all(p.exists() for p in keep)
    assert (tmp_path / "last.pt").read_bytes() == b"complete"

"""Training runs on a tiny set: outputs, exact resume after a crash, gloo with 2 CPU processes."""

from __future__ import annotations

import json

import pytest
import torch
from climate_seg.cli import app
from climate_seg.training import FAIL_ENV
from climate_seg.training._toy import write_toy_set
from typer.testing import CliRunner

TINY = ["--resolution", "2", "--width-scale", "0.25", "--batch-size", "2", "--seed", "3", "--warmup-epochs", "1"]


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
    result = run(["train", "--data", toy, "--out", out, "--epochs", "2", *TINY])
    assert result.exit_code == 0, result.output
    for name in ("last.pt", "best.pt", "config.yaml", "metrics.jsonl", "test_metrics.json"):
        assert (out / name).is_file(), name
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["split"] == "val"] == [1, 2]
    report = json.loads((out / "test_metrics.json").read_text())
    assert set(report["test"]["grid"]) >= {"ap_tc", "ap_ar", "map", "mean_accuracy"}
    ckpt = torch.load(out / "last.pt", weights_only=False)
    assert {"model", "optimizer", "scheduler", "trainer", "rng"} <= set(ckpt)
    assert ckpt["trainer"]["iteration"] == 2 * ckpt["trainer"]["epoch_length"]
    # a second start on the same folder must not overwrite it
    again = run(["train", "--data", toy, "--out", out, "--epochs", "2", *TINY])
    assert again.exit_code == 1 and "--resume" in again.output


def test_resume_after_crash_matches_uninterrupted_run(toy, tmp_path, monkeypatch):
    common = ["--data", toy, "--epochs", "3", "--checkpoint-every", "1", "--patience", "0", *TINY]
    full = tmp_path / "full"
    assert run(["train", "--out", full, *common]).exit_code == 0
    crashed = tmp_path / "crashed"
    monkeypatch.setenv(FAIL_ENV, "6")  # mid-epoch 2 (4 iterations per epoch)
    result = run(["train", "--out", crashed, *common])
    assert result.exit_code == 1 and "simulated crash" in result.output
    state = torch.load(crashed / "last.pt", weights_only=False)["trainer"]
    assert state["iteration"] == 6
    monkeypatch.delenv(FAIL_ENV)
    result = run(["train", "--out", crashed, "--resume", *common])
    assert result.exit_code == 0, result.output
    assert "resuming" in result.output
    a = torch.load(full / "last.pt", weights_only=False)
    b = torch.load(crashed / "last.pt", weights_only=False)
    assert a["trainer"]["iteration"] == b["trainer"]["iteration"] == 12
    for key, value in a["model"].items():
        assert torch.allclose(value.float(), b["model"][key].float(), atol=1e-6), key
    epochs = [json.loads(x)["epoch"] for x in (crashed / "metrics.jsonl").read_text().splitlines()
              if json.loads(x)["split"] == "val"]
    assert epochs == [1, 2, 3]


def test_two_cpu_processes_with_gloo(toy, tmp_path):
    out = tmp_path / "ddp"
    result = run(["train", "--data", toy, "--out", out, "--epochs", "1", "--nproc", "2", *TINY])
    assert result.exit_code == 0, result.output
    ckpt = torch.load(out / "last.pt", weights_only=False)
    assert ckpt["trainer"]["epoch_length"] == 2  # 8 training files / (2 processes x batch 2)
    assert (out / "test_metrics.json").is_file()


def test_same_seed_same_losses(toy, tmp_path):
    losses = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert run(["train", "--data", toy, "--out", out, "--epochs", "1", *TINY]).exit_code == 0
        records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        losses.append([(r["ap_tc"], r["ap_ar"], r.get("loss")) for r in records if r["split"] == "val"])
    assert losses[0] == losses[1]


@pytest.mark.parametrize("mode", ["stack", "lstm"])
def test_temporal_models_train(tmp_path, mode):
    data = tmp_path / "data"
    write_toy_set(data, n_files=16, level=2, seed=4)
    out = tmp_path / mode
    result = run(["train", "--data", data, "--out", out, "--epochs", "1", "--temporal", mode,
                  "--sequence-length", "2", *TINY])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "test_metrics.json").read_text())["config"]["temporal"] == mode


def test_skip_bad_files(tmp_path):
    data = tmp_path / "data"
    files = write_toy_set(data, n_files=12, level=2, seed=5)
    files[3].write_bytes(b"PK\x03\x04 truncated")
    result = run(["train", "--data", data, "--out", tmp_path / "strict", "--epochs", "1", *TINY])
    assert result.exit_code == 1 and "Traceback" not in result.output
    result = run(["train", "--data", data, "--out", tmp_path / "skip", "--epochs", "1", "--skip-bad-files", *TINY])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("sampling", "resolution"), [("healpix", "4"), ("equiangular", "8")])
def test_other_samplings_report_grid_and_mesh_metrics(toy, tmp_path, sampling, resolution):
    out = tmp_path / sampling
    args = ["train", "--data", toy, "--out", out, "--epochs", "1", *TINY, "--sampling", sampling, "--resolution", resolution]
    result = run(args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "test_metrics.json").read_text())["test"]
    assert set(report) == {"grid", "mesh"}

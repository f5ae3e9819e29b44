"""The command line: help, data commands, evaluate/predict/plot/info, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from climate_seg.cli import app
from climate_seg.cli._app import _normalise_gpu
from climate_seg.training._toy import write_toy_set
from typer.testing import CliRunner

TINY = ["--resolution", "2", "--width-scale", "0.25", "--batch-size", "2", "--epochs", "1"]


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result, *words):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for word in words:
        assert word in errors[0], errors[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = root / "data"
    write_toy_set(data, n_files=12, level=2, seed=2)
    result = run("train", "--data", data, "--out", root / "run", *TINY)
    assert result.exit_code == 0, result.output
    return data, root / "run"


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["predict"], ["plot"], ["info"], ["demo"],
                                     ["data"], ["data", "synth"], ["data", "stats"], ["data", "check"]])
def test_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_gpu_values_are_normalised():
    assert _normalise_gpu(["train", "--gpu", "0", "1", "--epochs", "2"]) == ["train", "--gpu", "0,1", "--epochs", "2"]
    assert _normalise_gpu(["train", "--gpu"]) == ["train", "--gpu", "0"]


def test_missing_data_folder_suggests_synth(tmp_path):
    one_line_error(run("train", "--data", tmp_path / "nope", "--out", tmp_path / "r"), "climate-seg data synth", "climate_sphere_l5.zip")
    assert not (tmp_path / "r").exists()


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    one_line_error(run("train", "--data", tmp_path / "empty", "--out", tmp_path / "r"), "no data-")


def test_wrong_channel_count(tmp_path):
    write_toy_set(tmp_path / "d", n_files=6, level=1, channels=5)
    one_line_error(run("train", "--data", tmp_path / "d", "--out", tmp_path / "r", *TINY), "channels")


def test_gpu_that_does_not_exist(tmp_path, trained):
    data, _ = trained
    result = run("train", "--data", data, "--out", tmp_path / "r", "--gpu", "7", "3", *TINY)
    one_line_error(result, "GPU" if torch.cuda.is_available() else "CUDA")
    assert not (tmp_path / "r").exists()


def test_unwritable_output_folder(tmp_path, trained):
    data, _ = trained
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    one_line_error(run("train", "--data", data, "--out", blocker / "run", *TINY), "not writable")
    assert blocker.read_text() == "keep me"


def test_checkpoint_of_another_sampling(trained, tmp_path):
    data, run_dir = trained
    one_line_error(run("evaluate", run_dir, "--data", data, "--sampling", "healpix"), "icosahedral")
    one_line_error(run("evaluate", tmp_path / "none", "--data", data), "does not exist")


def test_resume_without_run(trained, tmp_path):
    data, _ = trained
    one_line_error(run("train", "--data", data, "--out", tmp_path / "r", "--resume"), "nothing to resume")


def test_evaluate_predict_plot(trained, tmp_path):
    data, run_dir = trained
    report = tmp_path / "report.json"
    result = run("evaluate", run_dir, "--data", data, "--split", "all", "--report", report)
    assert result.exit_code == 0, result.output
    metrics = json.loads(report.read_text())["metrics"]["grid"]
    assert 0 <= metrics["map"] <= 1 and json.loads(report.read_text())["n_files"] == 12
    result = run("predict", run_dir, "--data", data, "--out", tmp_path / "pred")
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "pred").glob("*-pred.npz"))
    assert len(files) == 12
    with np.load(files[0]) as z:
        assert z["labels"].shape == (162,) and z["probabilities"].shape == (3, 162)
    one_file = sorted(data.glob("*.npz"))[0]
    result = run("plot", one_file, "--run", run_dir, "--out", tmp_path / "png")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "png").glob("*.png"))) == 2


def test_data_stats_and_check(trained, tmp_path):
    data, _ = trained
    result = run("data", "stats", data, "--out", tmp_path / "s.json")
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "s.json").read_text())["mean"]) == 16
    one_line_error(run("data", "check", tmp_path / "nope"), "does not exist")


def test_info():
    result = run("info")
    assert result.exit_code == 0, result.output
    assert "10242" in result.output and "parameters" in result.output

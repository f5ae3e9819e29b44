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


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["train"],
        ["evaluate"],
        ["predict"],
        ["plot"],
        ["info"],
        ["demo"],
        ["data"],
        ["data", "synth"],
        ["data", "stats"],
        ["data", "check"],
    ],
)
def test_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_train_help_shows_defaults_hints_and_the_real_parameter_count():
    from climate_seg.config import TrainConfig, option_fields
    from climate_seg.models import build_model, parameter_count, sampling_for

    text = " ".join(
        CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "250"}).output.split()
    )
    for f in option_fields():
        assert "--" + f.name.replace("_", "-") in text, f.name
    assert text.count("[default:") >= len(option_fields()) - 1  # every option shows its default
    assert "[default: (12)]" in text and "[default: (auto)]" in text and "[default: (time)]" in text
    count = parameter_count(
        build_model(TrainConfig(preset="deepsphere"), sampling_for("icosahedral", 5))
    )
    assert f"{count:,} parameters" in text  # not "13M"
    plot_help = " ".join(
        CliRunner().invoke(app, ["plot", "--help"], env={"COLUMNS": "250"}).output.split()
    )
    assert "climate-seg[plot]" in plot_help  # install hints survive the rich markup


def test_version():
    from climate_seg import __version__

    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"climate-seg {__version__}"


def test_gpu_values_are_normalised():
    assert _normalise_gpu(["train", "--gpu", "0", "1", "--epochs", "2"]) == [
        "train",
        "--gpu",
        "0,1",
        "--epochs",
        "2",
    ]
    assert _normalise_gpu(["train", "--gpu"]) == ["train", "--gpu", "0"]


def test_missing_data_folder_suggests_synth(tmp_path):
    one_line_error(
        run("train", "--data", tmp_path / "nope", "--out", tmp_path / "r"),
        "climate-seg data synth",
        "climate_sphere_l5.zip",
    )
    assert not (tmp_path / "r").exists()


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    one_line_error(run("train", "--data", tmp_path / "empty", "--out", tmp_path / "r"), "no data-")


def test_wrong_channel_count(tmp_path):
    write_toy_set(tmp_path / "d", n_files=6, level=1, channels=5)
    one_line_error(
        run("train", "--data", tmp_path / "d", "--out", tmp_path / "r", *TINY), "channels"
    )


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
    one_line_error(
        run("train", "--data", data, "--out", tmp_path / "r", "--resume"), "nothing to resume"
    )


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
    result = run(
        "plot", one_file, "--run", run_dir, "--out", tmp_path / "png", "--nlat", "24", "--gif"
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "png").glob("*.png"))) == 2
    assert len(list((tmp_path / "png").glob("*.gif"))) == 1


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_evaluate_and_predict_gpu_errors(trained, tmp_path, command):
    data, run_dir = trained
    out = ["--out", tmp_path / "pred"] if command == "predict" else []
    result = run(command, run_dir, "--data", data, *out, "--gpu", "7")
    one_line_error(result, "GPU" if torch.cuda.is_available() else "CUDA")
    if torch.cuda.is_available():
        one_line_error(run(command, run_dir, "--data", data, *out, "--gpu", "0", "0"), "twice")
    assert not (tmp_path / "pred").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_evaluate_and_predict_on_gpu_match_the_cpu(trained, tmp_path):
    data, run_dir = trained
    reports = {}
    for name, gpu in (("cpu", []), ("gpu", ["--gpu", "0"])):
        report = tmp_path / f"{name}.json"
        result = run(
            "evaluate", run_dir, "--data", data, "--split", "all", "--report", report, *gpu
        )
        assert result.exit_code == 0, result.output
        reports[name] = json.loads(report.read_text())["metrics"]["grid"]
        result = run("predict", run_dir, "--data", data, "--out", tmp_path / name, *gpu)
        assert result.exit_code == 0, result.output
    for key, value in reports["cpu"].items():
        assert reports["gpu"][key] == pytest.approx(value, rel=1e-4, abs=1e-5, nan_ok=True), key
    for cpu_file in sorted((tmp_path / "cpu").glob("*-pred.npz")):
        with np.load(cpu_file) as a, np.load(tmp_path / "gpu" / cpu_file.name) as b:
            np.testing.assert_allclose(
                a["probabilities"].astype(np.float32), b["probabilities"], atol=2e-3
            )


def test_data_stats_and_check(trained, tmp_path):
    data, _ = trained
    result = run("data", "stats", data, "--out", tmp_path / "s.json")
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "s.json").read_text())["mean"]) == 16
    one_line_error(run("data", "check", tmp_path / "nope"), "does not exist")


def test_info():
    result = CliRunner().invoke(app, ["info"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "10242" in result.output and "parameters" in result.output
    for name in ("demo", "paper-icosahedral", "paper-healpix", "paper-equiangular"):
        assert name in result.output


def test_train_with_a_shipped_config_name(trained, tmp_path):
    data, _ = trained
    result = run("train", "--config", "demo", "--data", data, "--out", tmp_path / "r", *TINY)
    assert result.exit_code == 0, result.output
    import yaml

    saved = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert saved["lr"] == 3e-3 and saved["resolution"] == 2  # from the file, then the flags


def _bad_file(folder, kind):
    """Copy of the first file of ``folder`` into a new folder with one broken file."""
    import shutil

    files = sorted(folder.glob("*.npz"))
    with np.load(files[0]) as z:
        data, labels = z["data"].copy(), z["labels"].copy()
    if kind == "indices":
        labels = labels.argmax(0)
    elif kind == "zeros":
        labels = np.zeros_like(labels)
    elif kind == "fill":
        data[3, :5] = 1e20
    elif kind == "truncated":
        pass
    return data, labels, files, shutil


@pytest.mark.parametrize(
    ("kind", "section"),
    [
        ("indices", "bad_labels"),
        ("zeros", "bad_labels"),
        ("fill", "fill_values"),
        ("truncated", "truncated"),
    ],
)
def test_data_check_names_bad_labels_and_fill_values(trained, tmp_path, kind, section):
    data, _ = trained
    values, labels, files, shutil = _bad_file(data, kind)
    folder = tmp_path / "d"
    folder.mkdir()
    for f in files[:3]:
        shutil.copy(f, folder / f.name)
    bad = folder / files[1].name
    if kind == "truncated":
        bad.write_bytes(bad.read_bytes()[:200])
    else:
        np.savez(bad, data=values, labels=labels)
    result = CliRunner().invoke(app, ["data", "check", str(folder)], env={"COLUMNS": "250"})
    assert result.exit_code == 1, result.output
    assert section in result.output and bad.name in result.output
    assert "3 files, 2 good" in result.output


def test_data_check_empty_folder_fails(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run("data", "check", tmp_path / "empty")
    assert result.exit_code != 0 and "0 files" in result.output


def test_evaluate_predict_plot_handle_bad_files(trained, tmp_path):
    import shutil

    data, run_dir = trained
    folder = tmp_path / "d"
    shutil.copytree(data, folder)
    bad = sorted(folder.glob("*.npz"))[4]
    bad.write_bytes(b"PK\x03\x04 not a zip")
    one_line_error(
        run(
            "evaluate", run_dir, "--data", folder, "--split", "all", "--report", tmp_path / "e.json"
        ),
        bad.name,
    )
    assert not (tmp_path / "e.json").exists()
    one_line_error(
        run("predict", run_dir, "--data", folder, "--out", tmp_path / "pred"),
        bad.name,
        "--skip-bad-files",
    )
    assert not list((tmp_path / "pred").glob("*"))  # nothing written before the error
    one_line_error(run("plot", bad, "--run", run_dir, "--out", tmp_path / "png"), bad.name)
    result = run(
        "evaluate",
        run_dir,
        "--data",
        folder,
        "--split",
        "all",
        "--report",
        tmp_path / "e.json",
        "--skip-bad-files",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["n_files"] == 11 and report["skipped_files"] == [str(bad)]
    result = run(
        "predict", run_dir, "--data", folder, "--out", tmp_path / "pred", "--skip-bad-files"
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "pred").glob("*-pred.npz"))) == 11


def test_predict_refuses_to_overwrite(trained, tmp_path):
    data, run_dir = trained
    assert run("predict", run_dir, "--data", data, "--out", tmp_path / "p").exit_code == 0
    target = sorted((tmp_path / "p").glob("*-pred.npz"))[0]
    target.write_bytes(b"mine")
    one_line_error(run("predict", run_dir, "--data", data, "--out", tmp_path / "p"), "--overwrite")
    assert target.read_bytes() == b"mine"
    assert (
        run("predict", run_dir, "--data", data, "--out", tmp_path / "p", "--overwrite").exit_code
        == 0
    )
    with np.load(target) as z:
        assert z["labels"].shape == (162,)


def test_outputs_respect_the_umask(trained, tmp_path):
    import os
    import stat

    data, _ = trained
    old = os.umask(0o027)
    try:
        result = run("train", "--data", data, "--out", tmp_path / "r", *TINY)
        assert result.exit_code == 0, result.output
        assert (
            run("predict", tmp_path / "r", "--data", data, "--out", tmp_path / "p").exit_code == 0
        )
    finally:
        os.umask(old)
    outputs = [*(tmp_path / "r").glob("*.*"), *(tmp_path / "p").glob("*.npz")]
    assert {p.name for p in outputs} >= {
        "last.pt",
        "best.pt",
        "config.yaml",
        "metrics.jsonl",
        "test_metrics.json",
    }
    for p in outputs:
        assert stat.S_IMODE(p.stat().st_mode) == 0o640, p.name


def test_no_user_warning_on_any_command(trained, tmp_path):
    import warnings

    data, run_dir = trained
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        for args in (
            ["info"],
            ["train", "--data", data, "--out", tmp_path / "r", *TINY],
            ["evaluate", run_dir, "--data", data, "--report", tmp_path / "e.json"],
            ["predict", run_dir, "--data", data, "--out", tmp_path / "p"],
            ["data", "stats", data],
            ["data", "check", data],
        ):
            result = run(*args)
            assert result.exit_code == 0, (args, result.output, result.exception)


def test_plot_curves_and_precision_recall(trained, tmp_path):
    data, run_dir = trained
    result = run("plot", run_dir, "--out", tmp_path / "png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "png" / "run-curves.png").is_file()
    result = run(
        "evaluate",
        run_dir,
        "--data",
        data,
        "--report",
        tmp_path / "e.json",
        "--pr-curve",
        tmp_path / "pr.png",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pr.png").stat().st_size > 1000


def test_depth_and_weight_decay_options(trained, tmp_path):
    from climate_seg.config import TrainConfig
    from climate_seg.models import build_model, parameter_count, sampling_for

    data, _ = trained
    one_line_error(
        run("train", "--data", data, "--out", tmp_path / "deep", *TINY, "--depth", "5"), "depth"
    )
    result = run(
        "train",
        "--data",
        data,
        "--out",
        tmp_path / "r",
        *TINY,
        "--depth",
        "1",
        "--weight-decay",
        "1e-4",
    )
    assert result.exit_code == 0, result.output
    ckpt = torch.load(tmp_path / "r" / "last.pt", weights_only=False)
    assert ckpt["optimizer"]["param_groups"][0]["weight_decay"] == 1e-4
    grid = sampling_for("icosahedral", 2)
    shallow = TrainConfig(resolution=2, width_scale=0.25, depth=1)
    assert sum(v.numel() for v in ckpt["model"].values() if v.is_floating_point()) > 0
    assert parameter_count(build_model(shallow, grid)) < parameter_count(
        build_model(TrainConfig(resolution=2, width_scale=0.25), grid)
    )
    build_model(shallow, grid).load_state_dict(ckpt["model"])  # the saved model has depth 1

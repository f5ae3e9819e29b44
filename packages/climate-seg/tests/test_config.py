"""Configuration files, CLI overrides and class-weight parsing."""

from __future__ import annotations

import pytest
import yaml
from climate_seg.config import TrainConfig, load_config, parse_class_weights, save_config


def test_yaml_file_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 7\nbatch-size: 3\nsampling: healpix\nclass_weights: [1, 50, 5]\n")
    cfg = load_config(path, epochs=2, lr=None)
    assert cfg.epochs == 2  # the flag wins
    assert cfg.batch_size == 3 and cfg.sampling == "healpix"
    assert parse_class_weights(cfg.class_weights) == [1.0, 50.0, 5.0]
    assert cfg.grid_resolution == 32


def test_toml_file_with_train_table(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[train]\nepochs = 4\nscheduler = "cosine"\ngpu = 0\n')
    cfg = load_config(path)
    assert (cfg.epochs, cfg.scheduler, cfg.gpu) == (4, "cosine", [0])


def test_saved_config_round_trips(tmp_path):
    cfg = TrainConfig(epochs=3, seed=5)
    save_config(cfg, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert again == cfg
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["seed"] == 5


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("bogus: 1\n", "unknown setting"),
        ("sampling: cubes\n", "'sampling'.*choose one of"),
        ("- 1\n", "mapping"),
        ("epochs: 0\n", "'epochs'.*at least 1"),
        ("temporal: stack\n", "sequence-length"),
        ("lr: abc\n", "'lr'.*number"),
        ("epochs: 2.5\n", "'epochs'.*integer"),
        ("lr: 0\n", "'lr'.*greater than 0"),
        ("skip_bad_files: maybe\n", "'skip_bad_files'"),
        ("temporal: lstm\nsequence_length: 3\nsplit: random\n", "split"),
    ],
)
def test_bad_config_is_a_clear_value_error(tmp_path, text, match):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_config(path)


def test_class_weight_specs():
    assert parse_class_weights("none") == "none"
    assert parse_class_weights("auto") == "auto"
    assert parse_class_weights("Balanced") == "balanced"
    with pytest.raises(ValueError, match="class_weights"):
        parse_class_weights("1,2")
    with pytest.raises(ValueError, match="does not exist"):
        load_config("/nonexistent/c.yaml")


def test_yaml_numbers_in_any_notation(tmp_path):
    """PyYAML reads ``1e-3`` as a string; the loader coerces it to the field's type."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "lr: 1e-3\nweight_decay: 1.0e-5\nepochs: 3.0\nwidth_scale: 1\nskip-bad-files: yes\ntemporal: none\n"
    )
    cfg = load_config(path)
    assert cfg.lr == pytest.approx(1e-3) and isinstance(cfg.lr, float)
    assert cfg.weight_decay == pytest.approx(1e-5)
    assert cfg.epochs == 3 and isinstance(cfg.epochs, int)
    assert cfg.width_scale == 1.0 and cfg.skip_bad_files is True and cfg.temporal is None


def test_example_configs_ship_and_load_by_name():
    from climate_seg.config import example_configs

    names = set(example_configs())
    assert {"demo", "paper-icosahedral", "paper-healpix", "paper-equiangular"} <= names
    for name in names:
        load_config(name)  # every shipped example is valid
    cfg = load_config("paper-healpix", epochs=2)
    assert (cfg.sampling, cfg.grid_resolution, cfg.preset, cfg.epochs) == (
        "healpix",
        32,
        "deepsphere",
        2,
    )
    with pytest.raises(ValueError, match="neither a file nor a shipped example"):
        load_config("no-such-config")


def test_defaults_are_stated_once():
    """The CLI options are derived from the dataclass: same names, same defaults in the help."""
    from dataclasses import fields

    from climate_seg.cli._options import config_options
    from climate_seg.config import option_fields

    params = {p.name: p for p in config_options()}
    assert set(params) == {f.name for f in option_fields()}
    assert set(params) >= {"depth", "weight_decay", "split", "log_every"}
    assert all(p.default.default is None for p in params.values())  # None = "not given"
    assert params["epochs"].default.show_default == str(TrainConfig().epochs)
    assert params["lr"].default.show_default == f"{TrainConfig().lr:g}"
    assert "extra" not in params and "extra" in {f.name for f in fields(TrainConfig)}


def test_old_run_configs_keep_their_split(tmp_path):
    from climate_seg.config import config_from_dict

    assert config_from_dict({"epochs": 3}).split == "random"  # 0.1 runs were split at random
    assert config_from_dict({"temporal": "stack", "sequence_length": 2}).split == "time"
    assert config_from_dict({"split": "year"}).split == "year"


def test_resume_config_applies_refuses_and_stays_in_place(tmp_path):
    from climate_seg.training import resume_config

    saved = TrainConfig(out="/elsewhere/run", epochs=3, lr=1e-3, batch_size=4)
    cfg, notes = resume_config(
        saved, {"lr": 2e-4, "epochs": 5, "nproc": 2, "batch_size": 4}, tmp_path / "run"
    )
    assert cfg.out == str(tmp_path / "run")  # a copied or moved folder resumes in place
    assert (cfg.lr, cfg.epochs, cfg.nproc, cfg.batch_size) == (2e-4, 5, 2, 4)
    assert any("lr: 0.001 -> 0.0002" in n for n in notes) and any(
        "epochs: 3 -> 5" in n for n in notes
    )
    assert any("continues in" in n for n in notes)
    unchanged, _ = resume_config(saved, {}, tmp_path / "run")
    assert unchanged.epochs == 3  # the saved plan, not the default
    with pytest.raises(ValueError, match=r"batch_size 4 -> 8.*sampling icosahedral -> healpix"):
        resume_config(saved, {"batch_size": 8, "sampling": "healpix"}, tmp_path / "run")


def test_runs_saved_before_the_new_small_defaults_rebuild_as_trained():
    """A config.yaml written before 0.2.0 (no auto_depth; kernel_size 3 or absent) rebuilds the
    depth-3, order-3 U-Net it was trained with, not today's default (depth 2, order 5)."""
    from climate_seg.config import config_from_dict
    from climate_seg.models import build_model, parameter_count, sampling_for

    saved_now = TrainConfig(data="d").to_dict()
    legacy = {k: v for k, v in saved_now.items() if k not in ("auto_depth", "kernel_size")}
    old, new = config_from_dict(legacy), config_from_dict(saved_now)
    assert (old.auto_depth, old.chebyshev_order) == (3, 3)
    assert (new.auto_depth, new.chebyshev_order) == (2, 5)
    grid = sampling_for("icosahedral", 3)
    explicit = config_from_dict({**saved_now, "depth": 3, "kernel_size": 3})
    assert parameter_count(build_model(old, grid)) == parameter_count(build_model(explicit, grid))
    assert parameter_count(build_model(new, grid)) != parameter_count(build_model(old, grid))

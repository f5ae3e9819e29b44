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
    [("bogus: 1\n", "unknown setting"), ("sampling: cubes\n", "unknown sampling"), ("- 1\n", "mapping"),
     ("epochs: 0\n", "at least 1"), ("temporal: stack\n", "sequence-length")],
)
def test_bad_config_is_a_clear_value_error(tmp_path, text, match):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_config(path)


def test_class_weight_specs():
    assert parse_class_weights("none") == "none"
    assert parse_class_weights("Balanced") == "balanced"
    with pytest.raises(ValueError, match="class-weights"):
        parse_class_weights("1,2")
    with pytest.raises(ValueError, match="does not exist"):
        load_config("/nonexistent/c.yaml")

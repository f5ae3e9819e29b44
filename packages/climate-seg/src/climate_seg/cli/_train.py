"""``climate-seg train``: options derived from ``TrainConfig``; a thin adapter to :func:`climate_seg.training.train`."""

from __future__ import annotations

import inspect
from enum import Enum
from typing import Any

import typer

from ._app import app, console, friendly, parse_gpu
from ._options import plain_values, with_config_options

__all__ = ["Sampling", "train"]


class Sampling(str, Enum):
    icosahedral = "icosahedral"
    healpix = "healpix"
    equiangular = "equiangular"


_EXTRA = [
    inspect.Parameter(
        "config",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=str | None,
        default=typer.Option(
            None,
            "--config",
            help="YAML or TOML file of settings, or the name of a shipped example (see `climate-seg "
            "info`); flags override it.",
            show_default=False,
        ),
    ),
    inspect.Parameter(
        "resume",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=bool,
        default=typer.Option(
            False,
            "--resume",
            help="Continue the run in --out with its saved plan; flags given with it are applied "
            "and logged, or refused.",
        ),
    ),
]


@app.command()
@friendly
@with_config_options(_EXTRA)
def train(**kwargs: Any) -> None:
    """Train a spherical U-Net; the run folder gets last.pt, best.pt, config.yaml, metrics.jsonl, test_metrics.json."""
    import dataclasses

    from ..config import TrainConfig, read_settings
    from ..training import train as run_training

    config, resume = kwargs.pop("config"), kwargs.pop("resume")
    kwargs = plain_values(kwargs)
    kwargs["gpu"] = parse_gpu(kwargs.get("gpu"))
    given = read_settings(config, **kwargs)
    cfg = dataclasses.replace(TrainConfig(), **given).validate()
    run_dir = run_training(cfg, resume=resume, given=given, console=console)
    console.print(f"run folder: [bold]{run_dir}[/] (metrics.jsonl, best.pt, test_metrics.json)")

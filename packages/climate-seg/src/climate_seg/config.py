"""Training configuration: one typed dataclass, the single source of truth for every setting.

Each field of :class:`TrainConfig` carries its type (``Literal`` choices, ``int``,
``float``, ...), its default, its range and its help text. From it are derived:

* the YAML/TOML loader (:func:`load_config`): values are coerced to the field's type
  (``lr: 1e-3`` works although PyYAML reads it as a string) and a wrong value raises a
  ``ValueError`` naming the key;
* the ``climate-seg train`` options (:mod:`climate_seg.cli._options`), with their help,
  defaults and ranges.

The effective configuration of every run is saved as ``config.yaml`` in its run folder,
so that ``--resume`` and ``evaluate`` can rebuild the same model. Example configurations
ship in ``climate_seg/configs`` (:func:`example_configs`) and can be named instead of a
path (``--config paper-icosahedral``).
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

__all__ = [
    "DEFAULT_RESOLUTION",
    "RESUMABLE",
    "SAMPLINGS",
    "TrainConfig",
    "config_from_dict",
    "example_configs",
    "load_config",
    "option_fields",
    "parse_class_weights",
    "read_settings",
    "resolve_config_path",
    "save_config",
]

SamplingName = Literal["icosahedral", "healpix", "equiangular"]
PresetName = Literal["small", "deepsphere"]
SchedulerName = Literal["plateau", "cosine"]
TemporalName = Literal["stack", "lstm"]
SplitName = Literal["time", "year", "random"]

#: Samplings the model can run on (the data itself lives on the icosahedral level-5 mesh).
SAMPLINGS: tuple[str, ...] = get_args(SamplingName)

#: Default resolution per sampling: icosahedral level, HEALPix nside, equiangular nlat.
DEFAULT_RESOLUTION = {"icosahedral": 5, "healpix": 32, "equiangular": 64}


def _meta(
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    exclusive_min: bool = False,
    cli: bool = True,
    resume: str = "fixed",
    default_text: str | None = None,
) -> dict[str, Any]:
    """Field metadata: help text, range, whether it is a CLI option, and its ``--resume`` rule.

    ``resume``: ``"fixed"`` (part of the run's plan; a different value is refused on
    resume), ``"apply"`` (a new value is applied and logged), ``"runtime"`` (devices, workers,
    logging: applied silently).
    """
    return {
        "help": help,
        "min": min,
        "max": max,
        "exclusive_min": exclusive_min,
        "cli": cli,
        "resume": resume,
        "default_text": default_text,
    }


@dataclass
class TrainConfig:
    """Every setting of a training run (see ``climate-seg train --help`` for the same list).

    Attributes
    ----------
    data : str or None
        Folder of ``data-YYYY-MM-DD-HH-R-mesh.npz`` files.
    out : str
        Run folder (checkpoints, ``metrics.jsonl``, ``config.yaml``).
    sampling : {"icosahedral", "healpix", "equiangular"}
        Grid the model runs on (the data are resampled from the mesh).
    resolution : int or None
        Icosahedral level, HEALPix nside or equiangular nlat (None: ``DEFAULT_RESOLUTION``).
    preset : {"small", "deepsphere"}
        ``small`` (a ``SphericalUNet``, fast on CPUs) or ``deepsphere`` (the published AR/TC
        U-Net, 5 763 491 parameters).
    depth : int or None
        Poolings of the ``small`` U-Net (None: ``auto_depth``, limited by the grid); the
        ``deepsphere`` preset has 5.
    auto_depth : int
        The depth used when ``depth`` is None: 2 (saved in ``config.yaml``; runs saved
        before 0.2.0 used 3 and are rebuilt with it).
    neighbours : int
        k of the k-nearest-neighbour graphs of the ``small`` U-Net (8).
    width_scale : float
        Model width multiplier.
    kernel_size : int or None
        Chebyshev polynomial order (None: 5 for ``small``, 3 for ``deepsphere``; see
        :attr:`chebyshev_order`).
    epochs, batch_size, lr, weight_decay, warmup_epochs : optimisation (Adam).
    scheduler : {"plateau", "cosine"}
    patience : int
        Early stopping on validation mAP (0: off).
    class_weights : str
        ``auto`` (from the training split's class frequencies, see
        :func:`climate_seg.training.data_setup.class_weights`), ``balanced``, ``none`` or
        ``w0,w1,w2``.
    split : {"time", "year", "random"}
        ``time``: contiguous 70/10/20 blocks of the date-sorted files; ``year``: whole
        calendar years to each part; ``random``: shuffled files (neighbouring 3-hourly
        frames then sit on both sides of the train/test line).
    temporal, sequence_length, prediction_shift : temporal models.
    skip_bad_files, seed, gpu, nproc, max_files, checkpoint_every, num_workers, log_every :
        see their help texts.
    extra : dict
        Free-form settings (e.g. ``time_limit_s`` of the demo).
    """

    data: str | None = field(
        default=None,
        metadata=_meta(
            "Folder of data-YYYY-MM-DD-HH-R-mesh.npz files.",
            resume="apply",
            default_text="required",
        ),
    )
    out: str = field(
        default="runs/climate-seg",
        metadata=_meta("Run folder (checkpoints, metrics.jsonl, config.yaml).", resume="runtime"),
    )
    sampling: SamplingName = field(
        default="icosahedral",
        metadata=_meta("Grid the model runs on (the data are resampled from the mesh)."),
    )
    resolution: int | None = field(
        default=None,
        metadata=_meta(
            "Icosahedral level, HEALPix nside or equiangular nlat.",
            min=0,
            default_text="5 / 32 / 64",
        ),
    )
    preset: PresetName = field(
        default="small",
        metadata=_meta(
            "Model: small (SphericalUNet, fast on CPUs) or deepsphere "
            "(the published AR/TC U-Net, 5,763,491 parameters)."
        ),
    )
    depth: int | None = field(
        default=None,
        metadata=_meta(
            "Poolings of the small U-Net (the deepsphere preset has 5).", min=1, default_text="2"
        ),
    )
    auto_depth: int = field(
        default=2,
        metadata=_meta(
            "Poolings of the small U-Net when depth is not given (runs saved before 0.2.0 used "
            "3 and keep it, see config_from_dict).",
            min=1,
            cli=False,
        ),
    )
    neighbours: int = field(
        default=8, metadata=_meta("k of the k-nearest-neighbour graphs of the small U-Net.", min=1)
    )
    width_scale: float = field(
        default=1.0,
        metadata=_meta("Multiply every layer width of the preset.", min=0, exclusive_min=True),
    )
    kernel_size: int | None = field(
        default=None,
        metadata=_meta(
            "Chebyshev polynomial order of the graph convolutions (small: 5; deepsphere: 3, "
            "as published).",
            min=1,
            default_text="5 / 3",
        ),
    )
    epochs: int = field(
        default=12,
        metadata=_meta(
            "Epochs of the run (with --resume: extend or keep the saved plan).",
            min=1,
            resume="apply",
        ),
    )
    batch_size: int = field(default=8, metadata=_meta("Samples per batch and process.", min=1))
    lr: float = field(
        default=3e-3,
        metadata=_meta(
            "Adam learning rate after warm-up.", min=0, exclusive_min=True, resume="apply"
        ),
    )
    weight_decay: float = field(
        default=0.0, metadata=_meta("Adam weight decay (L2 penalty).", min=0, resume="apply")
    )
    warmup_epochs: int = field(
        default=1, metadata=_meta("Linear learning-rate warm-up (epochs).", min=0)
    )
    scheduler: SchedulerName = field(
        default="plateau", metadata=_meta("plateau (ReduceLROnPlateau on val mAP) or cosine.")
    )
    patience: int = field(
        default=5,
        metadata=_meta(
            "Early stopping patience on val mAP in epochs (0: off).", min=0, resume="apply"
        ),
    )
    class_weights: str = field(
        default="auto",
        metadata=_meta(
            "Cross-entropy class weights: auto (from the training split's class "
            "frequencies), balanced, none or w0,w1,w2."
        ),
    )
    split: SplitName = field(
        default="time",
        metadata=_meta(
            "Train/val/test split: time (contiguous date blocks), year (whole years) or random."
        ),
    )
    temporal: TemporalName | None = field(
        default=None,
        metadata=_meta("Temporal model: stack frames as channels, or lstm.", default_text="none"),
    )
    sequence_length: int = field(
        default=1, metadata=_meta("Frames per temporal sample (T).", min=1)
    )
    prediction_shift: int = field(
        default=0, metadata=_meta("Predict the labels S frames after the last input.", min=0)
    )
    skip_bad_files: bool = field(
        default=False,
        metadata=_meta("Skip unreadable or malformed files instead of stopping.", resume="apply"),
    )
    seed: int = field(default=0, metadata=_meta("Seed of the split, shuffling and initialisation."))
    gpu: list[int] | None = field(
        default=None,
        metadata=_meta(
            "GPU ids: absent = CPU; --gpu 0 = cuda:0; --gpu 0 1 = DDP over GPUs 0 and 1.",
            resume="runtime",
            default_text="CPU",
        ),
    )
    nproc: int = field(
        default=1,
        metadata=_meta("CPU processes (gloo backend) when no --gpu.", min=1, resume="runtime"),
    )
    max_files: int | None = field(
        default=None,
        metadata=_meta("Use at most N files (quick experiments).", min=1, default_text="all"),
    )
    checkpoint_every: int = field(
        default=0,
        metadata=_meta(
            "Also save last.pt every N iterations (0: at the end of each epoch only).",
            min=0,
            resume="runtime",
        ),
    )
    num_workers: int = field(
        default=0, metadata=_meta("DataLoader worker processes.", min=0, resume="runtime")
    )
    log_every: int = field(
        default=50,
        metadata=_meta(
            "Log the training loss, learning rate and samples/s every N iterations (0: per epoch "
            "only).",
            min=0,
            resume="runtime",
        ),
    )
    extra: dict[str, Any] = field(
        default_factory=dict, metadata=_meta("Free-form settings.", cli=False, resume="runtime")
    )

    def validate(self) -> TrainConfig:
        """Check values and combinations; raise ``ValueError`` naming the setting and the fix."""
        for f in fields(self):
            _check_value(f, getattr(self, f.name))
        if self.temporal is not None and self.sequence_length < 2:
            raise ValueError("temporal: --temporal needs --sequence-length of at least 2.")
        if self.temporal is not None and self.split == "random":
            raise ValueError(
                "split: temporal models need consecutive frames in each part; use --split time or year."
            )
        if self.preset == "deepsphere" and self.depth not in (None, 5):
            raise ValueError(
                f"depth: the deepsphere preset has 5 poolings; drop --depth {self.depth} or use "
                "--preset small."
            )
        parse_class_weights(self.class_weights)
        return self

    @property
    def chebyshev_order(self) -> int:
        """The kernel size actually used (explicit, else 5 for ``small`` and 3 for ``deepsphere``).

        The ``small`` default of 5 reaches twice as far per layer as 3, which the synthetic
        set's TC rule needs (README, "Results": on an intermediate version of the set, AP TC
        0.68 with 3, 0.83-0.88 with 5).
        """
        if self.kernel_size is not None:
            return int(self.kernel_size)
        return 3 if self.preset == "deepsphere" else 5

    @property
    def grid_resolution(self) -> int:
        """The resolution actually used (explicit or the sampling's default)."""
        return int(
            self.resolution if self.resolution is not None else DEFAULT_RESOLUTION[self.sampling]
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (YAML/JSON serialisable)."""
        return asdict(self)


_HINTS = typing.get_type_hints(TrainConfig)


def option_fields() -> list[dataclasses.Field]:
    """The fields of :class:`TrainConfig` that are command-line options, in order."""
    return [f for f in fields(TrainConfig) if f.metadata.get("cli", True)]


def field_type(name: str) -> Any:
    """The resolved type annotation of a :class:`TrainConfig` field."""
    return _HINTS[name]


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def choices_of(name: str) -> tuple[str, ...] | None:
    """The ``Literal`` choices of a field, or None."""
    tp, _ = _strip_optional(_HINTS[name])
    return tuple(get_args(tp)) if get_origin(tp) is Literal else None


def _coerce(name: str, value: Any, source: str) -> Any:
    """``value`` converted to the type of field ``name``; ``ValueError`` naming the key otherwise."""
    tp, optional = _strip_optional(_HINTS[name])
    where = f" in {source}" if source else ""
    if value is None or (
        optional and isinstance(value, str) and value.strip().lower() in ("none", "null", "")
    ):
        if optional:
            return None
        raise ValueError(f"setting {name!r}{where} must not be empty.")
    try:
        if get_origin(tp) is Literal:
            text = str(value).strip().lower()
            if text not in get_args(tp):
                raise ValueError(
                    f"setting {name!r}{where} is {value!r}; choose one of {', '.join(get_args(tp))}."
                )
            return text
        if tp is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "yes", "on", "1"):
                return True
            if text in ("false", "no", "off", "0"):
                return False
            raise TypeError
        if tp is int:
            if isinstance(value, bool):
                raise TypeError
            number = float(value) if isinstance(value, str) else value
            if float(number) != int(number):
                raise TypeError
            return int(number)
        if tp is float:
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if tp is str:
            if isinstance(value, (list, tuple)):  # class_weights: [1, 50, 5]
                return ",".join(str(v) for v in value)
            return str(value)
        if get_origin(tp) is list:
            items = (
                value
                if isinstance(value, (list, tuple))
                else [v for v in str(value).replace(",", " ").split()]
            )
            return [int(v) for v in items]
        if get_origin(tp) is dict:
            if not isinstance(value, dict):
                raise TypeError
            return dict(value)
    except ValueError as exc:
        if str(exc).startswith("setting "):
            raise
    except (TypeError, OverflowError):
        pass
    kind = {int: "an integer", float: "a number", bool: "true or false"}.get(tp, str(tp))
    if get_origin(tp) is list:
        kind = "a list of integers"
    if tp in (int, float):
        raise ValueError(f"setting {name!r}{where} is {value!r}; it must be {kind}.") from None
    raise ValueError(f"setting {name!r}{where} is {value!r}; it must be {kind}.") from None


def _check_value(f: dataclasses.Field, value: Any) -> None:
    """Range and choice check of one (already typed) value."""
    if value is None:
        return
    choices = choices_of(f.name)
    if choices is not None and value not in choices:
        raise ValueError(f"setting {f.name!r} is {value!r}; choose one of {', '.join(choices)}.")
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        flag = "--" + f.name.replace("_", "-")
        if lo is not None and (value <= lo if f.metadata.get("exclusive_min") else value < lo):
            bound = (
                f"greater than {lo:g}" if f.metadata.get("exclusive_min") else f"at least {lo:g}"
            )
            raise ValueError(f"setting {f.name!r} ({flag}) must be {bound}; got {value}.")
        if hi is not None and value > hi:
            raise ValueError(f"setting {f.name!r} ({flag}) must be at most {hi:g}; got {value}.")


def parse_class_weights(spec: str) -> str | list[float]:
    """Parse ``--class-weights``: ``"auto"``, ``"none"``, ``"balanced"`` or ``"w0,w1,w2"``.

    Returns
    -------
    str or list of float
        ``"auto"``, ``"none"``, ``"balanced"`` or the three weights.
    """
    spec = str(spec).strip().lower()
    if spec in ("auto", "none", "balanced"):
        return spec
    try:
        weights = [float(w) for w in spec.strip("[]").split(",")]
    except ValueError:
        weights = []
    if len(weights) != 3 or any(w < 0 for w in weights):
        raise ValueError(
            f"setting 'class_weights' is {spec!r}; use auto, balanced, none or three "
            "non-negative numbers such as 1,50,5."
        )
    return weights


#: Folder of the example configurations shipped with the package.
_CONFIGS = "configs"


def example_configs() -> dict[str, Path]:
    """Example configurations shipped with the package: ``{name: path}`` (name = file stem)."""
    folder = resources.files("climate_seg") / _CONFIGS
    return {
        Path(str(p)).stem: Path(str(p))
        for p in sorted(folder.iterdir(), key=lambda q: q.name)
        if p.name.endswith((".yaml", ".toml"))
    }


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A config file path, or the path of a shipped example named ``name_or_path``."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    examples = example_configs()
    if str(name_or_path) in examples:
        return examples[str(name_or_path)]
    what = (
        "config file {} does not exist"
        if path.suffix or len(path.parts) > 1
        else "config {} is neither a file nor a shipped example"
    )
    raise ValueError(
        f"{what.format(repr(str(name_or_path)))}; shipped examples: {', '.join(examples)} "
        "(see `climate-seg info`)."
    )


def _read_file(path: Path) -> dict[str, Any]:
    text = path.read_text()
    if path.suffix.lower() == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - python 3.10
            import tomli as tomllib
        try:
            raw = tomllib.loads(text)
        except Exception as exc:
            raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
    else:
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"config file {path} must hold a mapping of settings.")
    raw = raw.get("train", raw)
    if not isinstance(raw, dict):
        raise ValueError(f"config file {path}: 'train' must hold a mapping of settings.")
    return raw


def read_settings(path: str | Path | None = None, **overrides: Any) -> dict[str, Any]:
    """The settings given explicitly: a config file's keys, then the non-None ``overrides``.

    Values are coerced to the field types; unknown keys and wrong values raise a
    ``ValueError`` that names the key (and the file).
    """
    names = {f.name for f in fields(TrainConfig)}
    values: dict[str, Any] = {}
    if path is not None:
        file = resolve_config_path(path)
        for key, value in _read_file(file).items():
            key = str(key).replace("-", "_")
            if key not in names:
                raise ValueError(
                    f"unknown setting {key!r} in {file}; valid keys: {', '.join(sorted(names))}."
                )
            values[key] = _coerce(key, value, str(file))
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in names:
            raise ValueError(f"unknown setting {key!r}; valid keys: {', '.join(sorted(names))}.")
        values[key] = _coerce(key, value, "")
    return values


def load_config(path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """Build a :class:`TrainConfig` from a YAML/TOML file (or a shipped example's name) and overrides.

    Parameters
    ----------
    path : str or Path, optional
        YAML (``.yaml``/``.yml``) or TOML (``.toml``) file, or the name of a shipped example
        (:func:`example_configs`); keys are the field names (dashes or underscores),
        optionally under a ``train`` table.
    **overrides
        Values that win over the file (CLI flags); None means "not given".

    Returns
    -------
    TrainConfig
    """
    return dataclasses.replace(TrainConfig(), **read_settings(path, **overrides)).validate()


def save_config(config: TrainConfig, path: str | Path) -> None:
    """Write the configuration as YAML (atomically, with the user's umask)."""
    from ._io import atomic_write_bytes

    atomic_write_bytes(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False).encode())


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    """Rebuild a configuration saved by :func:`save_config` (unknown keys ignored).

    Settings that did not exist in older versions take their defaults, except those
    whose default changed since, which keep the value the run was trained with:
    ``class_weights`` (0.1 runs saved it), ``split`` (a 0.1 run without it was split at
    random, or by time for temporal models), ``auto_depth`` (3 before 0.2.0) and
    ``kernel_size`` (3 when absent).
    """
    names = {f.name for f in fields(TrainConfig)}
    known = {k: _coerce(k, v, "config") for k, v in values.items() if k in names}
    if "split" not in known:
        known["split"] = "time" if known.get("temporal") else "random"
    known.setdefault("auto_depth", 3)
    known.setdefault("kernel_size", 3)
    return dataclasses.replace(TrainConfig(), **known)


#: Per field, what ``--resume`` does with a new value (see :func:`_opt`).
RESUMABLE = {f.name: f.metadata.get("resume", "fixed") for f in fields(TrainConfig)}

"""Typer options derived from :class:`climate_seg.config.TrainConfig` (the single source of truth).

Every option defaults to None ("not given") so that the config file and ``--resume`` can
tell given flags from defaults; the help shows the field's real default.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from ..config import TrainConfig, choices_of, field_type, option_fields

__all__ = ["config_options", "plain_values", "with_config_options"]

_DEFAULTS = TrainConfig()


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default_text(f: Any) -> str:
    text = f.metadata.get("default_text")
    if text is not None:
        return str(text)
    value = getattr(_DEFAULTS, f.name)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def config_options() -> list[inspect.Parameter]:
    """One keyword parameter per :class:`TrainConfig` option, with a ``typer.Option`` default."""
    params = []
    for f in option_fields():
        tp = field_type(f.name)
        help_text = escape(f.metadata.get("help", ""))
        kwargs: dict[str, Any] = {"help": help_text, "show_default": _default_text(f)}
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        choices = choices_of(f.name)
        annotation: Any
        decls = [_flag(f.name)]
        if choices is not None:
            choice: Any = Enum(f.name.title().replace("_", ""), {c: c for c in choices}, type=str)  # type: ignore[misc]
            annotation = choice | None
            kwargs["case_sensitive"] = False
        elif tp is bool:
            annotation = bool | None
            decls = [f"{_flag(f.name)}/--no-{f.name.replace('_', '-')}"]
        elif f.name in ("data", "out"):
            annotation = Path | None
        elif f.name == "gpu":
            annotation = str | None  # "--gpu 0 1" is normalised to "0,1" by the group
        elif tp in (int, int | None):
            annotation = int | None
            if lo is not None:
                kwargs["min"] = int(lo)
            if hi is not None:
                kwargs["max"] = int(hi)
        elif tp is float:
            annotation = float | None
            if lo is not None and not f.metadata.get("exclusive_min"):
                kwargs["min"] = float(lo)  # exclusive bounds are checked by TrainConfig.validate
        else:
            annotation = str | None
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(None, *decls, **kwargs),
                annotation=annotation,
            )
        )
    return params


def with_config_options(
    extra: list[inspect.Parameter],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give ``fn(**kwargs)`` the signature ``extra + config_options()`` for Typer."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        params = [*extra, *config_options()]
        fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        fn.__annotations__ = {p.name: p.annotation for p in params}
        return fn

    return decorate


def plain_values(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Option values as plain Python values (enum members to strings, paths to strings)."""
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, Path):
            value = str(value)
        out[key] = value
    return out

"""Input validation shared by the layers."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["check_choice", "check_vertices", "describe"]


def describe(sampling: Any) -> str:
    """Short human description of a sampling (or of a vertex count when None)."""
    if sampling is None:
        return "the fine sampling"
    kind = type(sampling).__name__
    fields = []
    for name in ("nside", "nest", "level", "nlat", "nlon", "poles", "n"):
        if hasattr(sampling, name):
            fields.append(f"{name}={getattr(sampling, name)!r}")
    if kind == "HealpixSampling":
        indices = getattr(sampling, "indices", None)
        fields.append("full sphere" if indices is None else f"{len(indices)} pixels")
    return f"{kind}({', '.join(fields)})"


def check_vertices(x: Any, n: int, owner: str, what: str, name: str = "x") -> None:
    """Raise unless ``x`` is a ``(B, n, C)`` floating tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{owner} expects a torch.Tensor {name} of shape (B, V, C); got {type(x).__name__}."
        )
    if x.dim() != 3:
        raise ValueError(
            f"{owner} expects {name} of shape (B, V, C) with V={n} ({what}); got shape {tuple(x.shape)}. "
            f"Add a batch dimension with {name}.unsqueeze(0) for a single sample."
        )
    if x.shape[1] != n:
        raise ValueError(
            f"{owner} expects V={n} vertices for {what}; got V={x.shape[1]} ({name}.shape={tuple(x.shape)}). "
            "Check the resolution of the data and that the layout is (B, V, C), not (B, C, V)."
        )
    if not torch.is_floating_point(x):
        raise TypeError(
            f"{owner} expects a floating-point {name}; got dtype {x.dtype}. Convert with {name}.float()."
        )


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    """Return ``value`` if it is one of ``choices``; else raise a ValueError listing them."""
    if value not in choices:
        raise ValueError(
            f"{what} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}."
        )
    return value

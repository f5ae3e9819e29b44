"""Argument and input checks shared by the models (private)."""

from __future__ import annotations

import numbers

from torch import Tensor

__all__ = ["check_dropout", "check_input", "check_int"]


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an int, refusing bools, floats and values below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def check_dropout(value: object) -> float:
    """``value`` as a float in ``[0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) < 1:
        raise ValueError(f"dropout must be a probability in [0, 1); got {value!r}.")
    return float(value)


def check_input(
    x: object, n_vertices: int, channels: int, like: Tensor, name: str, temporal: bool = False
) -> None:
    """Raise ``TypeError`` / ``ValueError`` unless ``x`` is ``(B, V, C)`` (or ``(B, T, V, C)``).

    ``like`` is a parameter of the model: ``x`` must have its dtype and device.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} expects a torch.Tensor; got {type(x).__name__}.")
    dims = 4 if temporal else 3
    layout = "(B, T, V, C)" if temporal else "(B, V, C)"
    if x.dim() != dims:
        raise ValueError(f"{name} expects input of shape {layout}; got {tuple(x.shape)}.")
    if x.shape[-2] != n_vertices:
        raise ValueError(
            f"{name}: input has V={x.shape[-2]} vertices but the sampling has {n_vertices}; "
            f"pass data on the sampling the model was built for (layout {layout})."
        )
    if x.shape[-1] != channels:
        raise ValueError(
            f"{name}: input has {x.shape[-1]} channels but the model expects {channels}; "
            f"check in_channels (layout {layout})."
        )
    if x.dtype != like.dtype:
        raise TypeError(
            f"{name}: input dtype {x.dtype} differs from the model's {like.dtype}; convert the input "
            f"(x.to({like.dtype})) or the model (model.to({x.dtype})). For mixed precision use "
            "torch.autocast with a float32 model and input."
        )
    if x.device != like.device:
        raise ValueError(
            f"{name}: input is on {x.device} but the model is on {like.device}; "
            f"move one of them (x.to('{like.device}') or model.to('{x.device}'))."
        )

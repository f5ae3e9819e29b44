"""Command-line interface ``climate-seg`` (Typer + rich).

Commands: ``train``, ``evaluate``, ``predict``, ``plot``, ``info``, ``demo`` and the
``data`` group (``synth``, ``stats``, ``check``). Bad input ends with a one-line
``Error: ...`` and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

from . import _data, _eval, _misc, _train  # noqa: F401  (register the commands)
from ._app import app, console, friendly

__all__ = ["app", "console", "friendly"]

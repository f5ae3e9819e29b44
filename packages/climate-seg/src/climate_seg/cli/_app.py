"""The Typer application, error handling and ``--gpu 0 1`` parsing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

__all__ = ["app", "console", "data_app", "err_console", "friendly", "parse_gpu"]

console = Console() if Console().is_terminal else Console(width=120)
err_console = (
    Console(stderr=True) if Console(stderr=True).is_terminal else Console(stderr=True, width=200)
)
F = TypeVar("F", bound=Callable[..., Any])


def _normalise_gpu(args: list[str]) -> list[str]:
    """Turn ``--gpu 0 1`` (several values) and a bare ``--gpu`` into ``--gpu 0,1`` / ``--gpu 0``."""
    out: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if tok == "--gpu":
            ids = []
            i += 1
            while i < len(args) and args[i].replace(",", "").lstrip("-").isdigit():
                ids.append(args[i])
                i += 1
            out += ["--gpu", ",".join(ids) if ids else "0"]
            continue
        out.append(tok)
        i += 1
    return out


class _Group(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _normalise_gpu(list(args)))


def parse_gpu(spec: str | None) -> list[int] | None:
    """``"0,1"`` → ``[0, 1]``; None → None (CPU)."""
    if spec is None or spec == "":
        return None
    try:
        return [int(s) for s in spec.split(",") if s != ""]
    except ValueError:
        raise ValueError(
            f"--gpu takes device ids such as `--gpu 0` or `--gpu 0 1`; got {spec!r}."
        ) from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    lines = [line for line in text.splitlines() if line.strip()]
    # errors raised in a spawned worker arrive wrapped with the worker's traceback
    for line in reversed(lines):
        if line.startswith(
            (
                "ValueError:",
                "RuntimeError:",
                "FileNotFoundError:",
                "PermissionError:",
                "climate_seg.training.engine.TrainingInterrupted:",
                "TrainingInterrupted:",
            )
        ):
            return line.split(":", 1)[1].strip()
    return lines[0] if lines else text


def _interrupted(exc: BaseException) -> int:
    """Exit code 128 + signal for a training run stopped by SIGTERM/SIGINT (also from a worker), else 0."""
    import signal

    signum = getattr(exc, "signum", None)
    if signum is None and "TrainingInterrupted" in str(exc):  # raised in a spawned worker
        signum = signal.SIGINT if "SIGINT received" in str(exc) else signal.SIGTERM
    if signum is None:
        return 0
    return 128 + int(signum)


def friendly(fn: F) -> F:
    """Wrap a command: expected errors become ``Error: <one line>`` and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            err_console.print("[red]Interrupted[/].")
            raise typer.Exit(130) from None
        except Exception as exc:
            code = _interrupted(exc)
            if code:
                err_console.print(
                    f"[bold yellow]Interrupted:[/] {escape(_one_line(exc))}",
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(code) from None
            if isinstance(exc, (ValueError, OSError, RuntimeError)) or exc.__class__.__name__ in (
                "ProcessRaisedException",
                "ProcessExitedException",
            ):
                err_console.print(
                    f"[bold red]Error:[/] {escape(_one_line(exc))}", highlight=False, soft_wrap=True
                )
                raise typer.Exit(1) from None
            raise

    return wrapper  # type: ignore[return-value]


app = typer.Typer(
    name="climate-seg",
    cls=_Group,
    help="Segment tropical cyclones (TC) and atmospheric rivers (AR) in CAM5 climate data with spherical U-Nets.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        console.print(f"climate-seg {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Segment tropical cyclones (TC) and atmospheric rivers (AR) in CAM5 climate data with spherical U-Nets."""


data_app = typer.Typer(help="Create, check and describe data folders.", no_args_is_help=True)
app.add_typer(data_app, name="data")

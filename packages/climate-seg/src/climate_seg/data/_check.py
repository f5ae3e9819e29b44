"""Integrity check of a folder of CAM5 files."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ._format import N_VERTICES, parse_name
from ._reader import DataFileError, read_sample
from ._stats import _vertex_count

__all__ = ["FolderReport", "check_folder"]


@dataclass
class FolderReport:
    """Problems found by :func:`check_folder`, as file names per problem.

    Attributes
    ----------
    n_files : int
        Number of ``*.npz`` files examined.
    n_good : int
        Files that read cleanly.
    unreadable, truncated, wrong_shape, non_finite, bad_labels, fill_values, bad_name : list of str
        File names with that problem (a badly named file is not read further);
        ``bad_labels``: labels not one-hot (class indices, all zeros, values other than
        0/1); ``fill_values``: magnitudes >= 1e15.
    """

    n_files: int = 0
    n_good: int = 0
    unreadable: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    wrong_shape: list[str] = field(default_factory=list)
    non_finite: list[str] = field(default_factory=list)
    bad_labels: list[str] = field(default_factory=list)
    fill_values: list[str] = field(default_factory=list)
    bad_name: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the folder holds files and none has a problem (an empty folder is not ok)."""
        return not (
            self.unreadable
            or self.truncated
            or self.wrong_shape
            or self.non_finite
            or self.bad_labels
            or self.fill_values
            or self.bad_name
            or self.n_files == 0
        )

    @property
    def bad_files(self) -> list[str]:
        """All problematic names, sorted."""
        return sorted(
            set(
                self.unreadable
                + self.truncated
                + self.wrong_shape
                + self.non_finite
                + self.bad_labels
                + self.fill_values
                + self.bad_name
            )
        )

    def summary(self) -> str:
        """One line per problem kind."""
        lines = [f"{self.n_files} files, {self.n_good} good"]
        for name in (
            "unreadable",
            "truncated",
            "wrong_shape",
            "non_finite",
            "bad_labels",
            "fill_values",
            "bad_name",
        ):
            items = getattr(self, name)
            if items:
                lines.append(
                    f"{name} ({len(items)}): "
                    + ", ".join(items[:10])
                    + (" ..." if len(items) > 10 else "")
                )
        return "\n".join(lines)


_PROBLEM_FIELD = {
    "missing": "unreadable",
    "unreadable": "unreadable",
    "truncated": "truncated",
    "shape": "wrong_shape",
    "non_finite": "non_finite",
    "labels": "bad_labels",
    "fill_value": "fill_values",
}


def check_folder(
    folder: str | os.PathLike,
    n_vertices: int | None = N_VERTICES,
    progress: Callable[[int, int], None] | None = None,
) -> FolderReport:
    """Read every ``*.npz`` file of a folder and report problems by file name.

    Parameters
    ----------
    folder : path-like
    n_vertices : int or None
        Expected vertex count (10242); None: that of the first readable file.
    progress : callable, optional
        Called as ``progress(done, total)`` after each file (one file in memory at a time).

    Returns
    -------
    FolderReport
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder.")
    report = FolderReport()
    paths = sorted(folder.glob("*.npz"), key=lambda q: q.name)
    for k, p in enumerate(paths):
        if progress is not None and k:
            progress(k, len(paths))
        report.n_files += 1
        try:
            parse_name(p.name)
        except ValueError:
            report.bad_name.append(p.name)
            continue
        try:
            if n_vertices is None:
                n_vertices = _vertex_count(p)
            read_sample(p, n_vertices=n_vertices)
        except DataFileError as err:
            getattr(report, _PROBLEM_FIELD[err.problem]).append(p.name)
            continue
        report.n_good += 1
    if progress is not None and paths:
        progress(len(paths), len(paths))
    return report

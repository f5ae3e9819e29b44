"""Deterministic train/val/test splits of CAM5 file lists."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._format import parse_name

__all__ = ["Split", "make_split", "split_by_time", "split_by_year", "split_files", "split_years"]


@dataclass(frozen=True)
class Split:
    """File lists of a split (each sorted by name).

    Attributes
    ----------
    train, val, test : list of Path
    """

    train: list[Path]
    val: list[Path]
    test: list[Path]

    def __iter__(self) -> Iterator[list[Path]]:
        return iter((self.train, self.val, self.test))


def _sorted_unique(files: Iterable[str | os.PathLike]) -> list[Path]:
    paths = [Path(f) for f in files]
    for p in paths:
        parse_name(p.name)  # clear error on foreign names
    paths = sorted(paths, key=lambda p: p.name)
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise ValueError("the file list holds the same file name twice; pass each frame once.")
    return paths


def split_files(
    files: Iterable[str | os.PathLike],
    fractions: Sequence[float] = (0.7, 0.1, 0.2),
    seed: int = 0,
) -> Split:
    """Random split of a file list, UGSCNN-style (70/10/20 with a fixed seed by default).

    Files are sorted by name first, then shuffled with ``numpy.random.default_rng(seed)``,
    so the split depends only on the set of names and the seed, never on listing order.

    Parameters
    ----------
    files : iterable of path-like
        CAM5 files (names must parse).
    fractions : (float, float, float)
        Train, val, test fractions; must be non-negative and sum to 1.
    seed : int
        Shuffle seed.

    Returns
    -------
    Split
        Each list sorted by name.
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or np.any(fr < 0) or not np.isclose(fr.sum(), 1.0):
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1; got {tuple(fractions)}."
        )
    paths = _sorted_unique(files)
    n = len(paths)
    perm = np.random.default_rng(seed).permutation(n)
    n_train = round(float(fr[0]) * n)
    n_val = round(float(fr[1]) * n)
    n_val = min(n_val, n - n_train)
    parts = (perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :])
    return Split(*(sorted((paths[i] for i in part), key=lambda p: p.name) for part in parts))


def split_by_year(
    files: Iterable[str | os.PathLike],
    train_years: Iterable[int],
    val_years: Iterable[int],
    test_years: Iterable[int],
) -> Split:
    """Split by calendar year (no temporal leakage between sets).

    Parameters
    ----------
    files : iterable of path-like
    train_years, val_years, test_years : iterable of int
        Disjoint sets of years, e.g. ``range(2106, 2112), [2112], [2113, 2114]``.
        Files of years in none of them are dropped.

    Returns
    -------
    Split
    """
    sets = [set(int(y) for y in ys) for ys in (train_years, val_years, test_years)]
    if sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]:
        raise ValueError("train, val and test years must be disjoint.")
    paths = _sorted_unique(files)
    out: list[list[Path]] = [[], [], []]
    for p in paths:
        year = parse_name(p.name).year
        for k in range(3):
            if year in sets[k]:
                out[k].append(p)
    return Split(*out)


def split_by_time(
    files: Iterable[str | os.PathLike], fractions: Sequence[float] = (0.7, 0.1, 0.2)
) -> Split:
    """Contiguous blocks of the date-sorted files: the first 70 % train, then 10 % val, 20 % test.

    Neighbouring 3-hourly frames (strongly correlated) thus never sit on both sides of the
    train/test line, except at the two block boundaries.

    Parameters
    ----------
    files : iterable of path-like
    fractions : (float, float, float)

    Returns
    -------
    Split
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or np.any(fr < 0) or not np.isclose(fr.sum(), 1.0):
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1; got {tuple(fractions)}."
        )
    paths = sorted(
        _sorted_unique(files),
        key=lambda p: (parse_name(p.name).date, parse_name(p.name).slot, p.name),
    )
    n = len(paths)
    n_train, n_val = round(float(fr[0]) * n), round(float(fr[1]) * n)
    n_val = min(n_val, n - n_train)
    parts = (paths[:n_train], paths[n_train : n_train + n_val], paths[n_train + n_val :])
    return Split(*(sorted(part, key=lambda p: p.name) for part in parts))


def split_years(
    files: Iterable[str | os.PathLike], fractions: Sequence[float] = (0.7, 0.1, 0.2)
) -> Split:
    """Whole calendar years to each part: the earliest ~70 % of the years train, then val, then test.

    Needs files of at least three different years.
    """
    paths = _sorted_unique(files)
    years = sorted({parse_name(p.name).year for p in paths})
    if len(years) < 3:
        raise ValueError(
            f"split 'year' needs files of at least 3 years; these cover {len(years)} ({', '.join(map(str, years))}). "
            "Use --split time."
        )
    n_test = max(1, round(float(fractions[2]) * len(years)))
    n_val = max(1, round(float(fractions[1]) * len(years)))
    n_train = len(years) - n_val - n_test
    if n_train < 1:
        n_train, n_test = 1, len(years) - 1 - n_val
    return split_by_year(
        paths, years[:n_train], years[n_train : n_train + n_val], years[n_train + n_val :]
    )


def make_split(files: Iterable[str | os.PathLike], mode: str = "time", seed: int = 0) -> Split:
    """The train/val/test split of a run: ``time`` (:func:`split_by_time`), ``year`` (:func:`split_years`)
    or ``random`` (:func:`split_files` with ``seed``); 70/10/20, every part non-empty.

    Raises
    ------
    ValueError
        Fewer than 3 files, an unknown mode, or an empty part.
    """
    paths = list(files)
    if len(paths) < 3:
        raise ValueError(
            f"only {len(paths)} data file(s); training needs at least 3 (train, val and test)."
        )
    if mode == "time":
        parts = split_by_time(paths)
    elif mode == "year":
        parts = split_years(paths)
    elif mode == "random":
        parts = split_files(paths, seed=seed)
    else:
        raise ValueError(f"unknown split {mode!r}; choose time, year or random.")
    tr, va, te = list(parts.train), list(parts.val), list(parts.test)
    if not va:
        va = [tr.pop()]
    if not te:
        te = [tr.pop()]
    return Split(tr, va, te)

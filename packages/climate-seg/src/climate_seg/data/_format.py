"""Constants and file naming of the CAM5 AR/TC data set.

Figures copied from ``shared/reference/cam5.json`` (the published description of the
downsampled CAM5 HAPPI20 data set used by UGSCNN and DeepSphere). The package never
reads that file at run time.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "CHANNELS",
    "CHANNEL_MEAN",
    "CHANNEL_STD",
    "CLASSES",
    "CLASS_FRACTIONS",
    "N_CHANNELS",
    "N_CLASSES",
    "N_VERTICES",
    "RUNS",
    "YEARS",
    "FileKey",
    "format_name",
    "parse_name",
]

# Source: shared/reference/cam5.json, "channels" (order as stored in the files).
CHANNELS: tuple[str, ...] = (
    "TMQ",
    "U850",
    "V850",
    "UBOT",
    "VBOT",
    "QREFHT",
    "PS",
    "PSL",
    "T200",
    "T500",
    "PRECT",
    "TS",
    "TREFHT",
    "Z1000",
    "Z200",
    "ZBOT",
)
# Source: shared/reference/cam5.json, "channel_mean" (raw physical units).
CHANNEL_MEAN = np.array(
    [
        26.1613026,
        0.984836817,
        0.116275556,
        -0.459006906,
        0.192794472,
        0.0107488334,
        98347.4609,
        101012.266,
        216.136414,
        258.974274,
        3.76523026e-08,
        288.836273,
        288.041748,
        342.482941,
        12031.8799,
        63.439743,
    ],
    dtype=np.float64,
)
# Source: shared/reference/cam5.json, "channel_std" (raw physical units).
CHANNEL_STD = np.array(
    [
        17.042067,
        8.1648855,
        5.6875458,
        6.4972377,
        5.4460597,
        0.0063829664,
        7759.6729,
        3804.6602,
        9.7163849,
        14.277466,
        1.8769481e-07,
        19.7971,
        19.022367,
        624.25934,
        676.24426,
        4.2128639,
    ],
    dtype=np.float64,
)
CHANNEL_MEAN.setflags(write=False)
CHANNEL_STD.setflags(write=False)
# Source: shared/reference/cam5.json, "classes" and "class_fraction_of_pixels".
CLASSES: tuple[str, ...] = ("background", "TC", "AR")
CLASS_FRACTIONS: dict[str, float] = {"background": 0.977, "TC": 0.001, "AR": 0.022}
# Source: shared/reference/cam5.json, "mesh" and "file_name_pattern".
N_VERTICES = 10242
N_CHANNELS = len(CHANNELS)
N_CLASSES = len(CLASSES)
YEARS = tuple(range(2106, 2115))
RUNS = (1, 2, 3, 4, 6)

_NAME_RE = re.compile(r"^data-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d+)-mesh\.npz$")


@dataclass(frozen=True, order=True)
class FileKey:
    """Parsed file name ``data-YYYY-MM-DD-HH-R-mesh.npz``.

    Ordering is ``(run, date, slot)``: consecutive 3-hourly frames of one run are
    adjacent when keys are sorted.

    Attributes
    ----------
    run : int
        Simulation run ``R``.
    date : datetime.date
        Calendar day.
    slot : int
        Three-hourly slot ``HH`` in 0..7 (hour ``3 * slot``).
    """

    run: int
    date: _dt.date
    slot: int

    @property
    def step(self) -> int:
        """Absolute 3-hourly time index (8 per day), for consecutiveness tests."""
        return self.date.toordinal() * 8 + self.slot

    @property
    def year(self) -> int:
        """Calendar year."""
        return self.date.year


def parse_name(name: str | Path) -> FileKey:
    """Parse a CAM5 file name (a path is fine: only its name is used).

    Parameters
    ----------
    name : str or Path
        E.g. ``"data-2106-01-01-00-1-mesh.npz"``.

    Returns
    -------
    FileKey

    Raises
    ------
    ValueError
        If the name does not match ``data-YYYY-MM-DD-HH-R-mesh.npz`` with a valid
        date and slot ``HH`` in 00..07.
    """
    base = Path(name).name
    m = _NAME_RE.match(base)
    if m is None:
        raise ValueError(
            f"{base!r} is not a CAM5 file name; expected 'data-YYYY-MM-DD-HH-R-mesh.npz' "
            "(e.g. 'data-2106-01-01-00-1-mesh.npz'). Rename it or remove it from the folder."
        )
    y, mo, d, hh, run = (int(g) for g in m.groups())
    try:
        date = _dt.date(y, mo, d)
    except ValueError as err:
        raise ValueError(f"{base!r} has an invalid date {y:04d}-{mo:02d}-{d:02d}: {err}.") from None
    if not 0 <= hh <= 7:
        raise ValueError(f"{base!r} has slot HH={hh:02d}; three-hourly slots are 00..07.")
    return FileKey(run=run, date=date, slot=hh)


def format_name(date: _dt.date, slot: int, run: int) -> str:
    """File name ``data-YYYY-MM-DD-HH-R-mesh.npz`` of a frame (inverse of :func:`parse_name`)."""
    if not 0 <= slot <= 7:
        raise ValueError(f"slot must be in 0..7; got {slot}.")
    return f"data-{date.year:04d}-{date.month:02d}-{date.day:02d}-{slot:02d}-{run}-mesh.npz"

"""CAM5 AR/TC data: reading, checking, splitting, normalising, datasets, synthesis.

API summary
-----------
Format (figures from the published data set description, ``cam5.json``):
    ``CHANNELS`` (16 names), ``CHANNEL_MEAN``/``CHANNEL_STD`` (16,), ``CLASSES``
    ("background", "TC", "AR"), ``CLASS_FRACTIONS``, ``N_VERTICES`` = 10242,
    ``parse_name(name) -> FileKey(run, date, slot)`` (``.step``, ``.year``),
    ``format_name(date, slot, run)``.
Reading:
    ``read_sample(path) -> (data (16, V) float32 raw units, labels (V,) int64)``,
    raises ``DataFileError`` (a ``ValueError`` with ``.path``, ``.problem``);
    ``list_files(folder) -> sorted list[Path]``;
    ``check_folder(folder) -> FolderReport`` (``.ok``, ``.unreadable``, ``.truncated``,
    ``.wrong_shape``, ``.non_finite``, ``.bad_name``, ``.summary()``).
Splits:
    ``split_files(files, fractions=(0.7, 0.1, 0.2), seed=0) -> Split(train, val, test)``;
    ``split_by_year(files, train_years, val_years, test_years) -> Split``.
Statistics:
    ``compute_stats(files, n_vertices=10242 | None, skip_bad_files=False) -> (mean, std)``
    streamed (None: vertex count from the first file); ``save_stats(path, mean, std)``,
    ``load_stats(path)``, ``published_stats()``; ``class_counts(files) -> (3,) int64``.
Datasets:
    ``CAM5Dataset(files, stats="published" | json path | (mean, std) | None, seq_len=None,
    shift=0, skip_bad_files=False)`` yields ``(x (V, 16) float32, y (V,) int64)`` on the data
    mesh, or with ``seq_len=T`` ``(x (T, V, 16), y (V,))`` (target = labels ``shift`` frames
    after the last input); ``.n_skipped``, ``.bad_files``, ``.validate()``. On another grid:
    ``climate_seg.transform.GridDataset(CAM5Dataset(...), MeshGrid.between(mesh, grid))``.
Labelling rules (TECA-style, on neighbourhoods of the sphere):
    ``DetectionRules`` (thresholds), ``MeshNeighbourhoods(coords)``,
    ``tc_centres(data, nbh, rules) -> (N,)`` vertices, ``ivt(data) -> (V,)``,
    ``ar_mask(data, nbh, threshold, rules) -> (V,) bool``,
    ``label_fields(data, nbh, ivt_threshold, rules) -> (V,) int64``.
Synthesis:
    ``synthesize(out_dir, n_samples, seed=0, episode_length=8, coords=None, tc_rate=None,
    ar_rate=None, difficulty="realistic", workers=1) -> list[Path]`` writes realistic files
    in the exact published format and naming (mesh from ``sphere_graphs.icosahedral(5)``
    unless ``coords`` is given; episodes of consecutive 3-hourly frames per run; labels
    computed from the fields by the detection rules; look-alikes that fail a rule; about
    0.1 % TC and 2.2 % AR vertices); ``DIFFICULTIES`` = ("realistic", "easy");
    ``SyntheticGenerator(coords, difficulty)`` makes frames in memory (``draw``, ``frame``).

Metrics live in ``climate_seg.metrics`` (``SegmentationMetrics``,
``IgniteSegmentationMetrics``, ``average_precision``).
"""

from ._check import FolderReport, check_folder
from ._dataset import CAM5Dataset
from ._format import (
    CHANNEL_MEAN,
    CHANNEL_STD,
    CHANNELS,
    CLASS_FRACTIONS,
    CLASSES,
    N_CHANNELS,
    N_CLASSES,
    N_VERTICES,
    RUNS,
    YEARS,
    FileKey,
    format_name,
    parse_name,
)
from ._reader import DataFileError, list_files, read_sample
from ._rules import DetectionRules, MeshNeighbourhoods, ar_mask, ivt, label_fields, tc_centres
from ._split import Split, split_by_year, split_files
from ._stats import (
    RunningStats,
    class_counts,
    compute_stats,
    load_stats,
    published_stats,
    save_stats,
)
from ._synth import DIFFICULTIES, SyntheticGenerator, synthesize

__all__ = [
    "CHANNELS",
    "CHANNEL_MEAN",
    "CHANNEL_STD",
    "CLASSES",
    "CLASS_FRACTIONS",
    "DIFFICULTIES",
    "N_CHANNELS",
    "N_CLASSES",
    "N_VERTICES",
    "RUNS",
    "YEARS",
    "CAM5Dataset",
    "DataFileError",
    "DetectionRules",
    "FileKey",
    "FolderReport",
    "MeshNeighbourhoods",
    "RunningStats",
    "Split",
    "SyntheticGenerator",
    "ar_mask",
    "check_folder",
    "class_counts",
    "compute_stats",
    "format_name",
    "ivt",
    "label_fields",
    "list_files",
    "load_stats",
    "parse_name",
    "published_stats",
    "read_sample",
    "save_stats",
    "split_by_year",
    "split_files",
    "synthesize",
    "tc_centres",
]

# 0.2: splits of a training run (by time, by year, random) and the memory-mapped layout
from ._packed import PackedDataset, is_packed, pack_folder, packed_names
from ._split import make_split, split_by_time, split_years

__all__ += [
    "PackedDataset",
    "is_packed",
    "make_split",
    "pack_folder",
    "packed_names",
    "split_by_time",
    "split_years",
]

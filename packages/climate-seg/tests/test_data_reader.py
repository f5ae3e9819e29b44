"""Reader, names, folder checks, splits, statistics and datasets on small synthetic folders."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from climate_seg.data import (
    CHANNEL_MEAN,
    CHANNEL_STD,
    CAM5Dataset,
    DataFileError,
    check_folder,
    class_counts,
    compute_stats,
    format_name,
    list_files,
    load_stats,
    parse_name,
    read_sample,
    save_stats,
    split_by_year,
    split_files,
)

V, C = 10242, 16


def write_file(folder: Path, date: dt.date, slot: int, run: int, rng, label_value=None) -> Path:
    data = (CHANNEL_MEAN[:, None] + CHANNEL_STD[:, None] * rng.standard_normal((C, V))).astype(
        np.float32
    )
    labels = rng.integers(0, 3, V) if label_value is None else np.full(V, label_value)
    onehot = np.eye(3, dtype=np.float32)[:, labels]
    path = folder / format_name(date, slot, run)
    np.savez(path, data=data, labels=onehot)
    return path


@pytest.fixture()
def folder(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    start = dt.datetime(2106, 3, 1, 18)
    for run in (1, 2):
        for k in range(6):  # 6 consecutive frames crossing midnight
            t = start + dt.timedelta(hours=3 * k)
            files.append(write_file(tmp_path, t.date(), t.hour // 3, run, rng, label_value=k % 3))
    files.append(write_file(tmp_path, dt.date(2107, 1, 1), 0, 1, rng))  # isolated frame
    return tmp_path, files


def test_parse_and_format_names():
    key = parse_name("data-2106-02-28-07-6-mesh.npz")
    assert (key.run, key.date, key.slot, key.year) == (6, dt.date(2106, 2, 28), 7, 2106)
    assert format_name(key.date, key.slot, key.run) == "data-2106-02-28-07-6-mesh.npz"
    assert parse_name("data-2106-03-01-00-6-mesh.npz").step == key.step + 1
    for bad in (
        "data-2106-02-28-08-6-mesh.npz",
        "data-2106-02-30-00-1-mesh.npz",
        "foo.npz",
        "data-2106-02-28-07-6.npz",
    ):
        with pytest.raises(ValueError, match=r"2106|CAM5|slot"):
            parse_name(bad)


def test_read_sample(folder):
    _, files = folder
    data, labels = read_sample(files[1])
    assert data.shape == (C, V) and data.dtype == np.float32
    assert labels.shape == (V,) and labels.dtype == np.int64 and np.all(labels == 1)


def test_bad_files_raise_naming_file(tmp_path, folder):
    _, files = folder
    trunc = tmp_path / "data-2110-01-01-00-1-mesh.npz"
    trunc.write_bytes(files[0].read_bytes()[:5000])
    junk = tmp_path / "data-2110-01-01-01-1-mesh.npz"
    junk.write_bytes(b"not a zip at all")
    shape = tmp_path / "data-2110-01-01-02-1-mesh.npz"
    np.savez(shape, data=np.zeros((16, 100), np.float32), labels=np.zeros((3, 100), np.float32))
    nan = tmp_path / "data-2110-01-01-03-1-mesh.npz"
    d = np.zeros((16, V), np.float32)
    d[3, 5] = np.nan
    np.savez(nan, data=d, labels=np.eye(3, dtype=np.float32)[:, np.zeros(V, int)])
    for path, problem in (
        (trunc, "truncated"),
        (junk, "unreadable"),
        (shape, "shape"),
        (nan, "non_finite"),
        (tmp_path / "data-2110-01-01-04-1-mesh.npz", "missing"),
    ):
        with pytest.raises(DataFileError, match=path.name) as err:
            read_sample(path)
        assert err.value.problem == problem
    (tmp_path / "readme.npz").write_bytes(b"x")
    report = check_folder(tmp_path)
    assert not report.ok
    assert report.truncated == [trunc.name] and report.unreadable == [junk.name]
    assert report.wrong_shape == [shape.name] and report.non_finite == [nan.name]
    assert report.bad_name == ["readme.npz"] and report.n_good == 13
    assert trunc.name in report.summary()


def test_check_folder_ok_and_list_files(folder):
    path, files = folder
    assert check_folder(path).ok
    assert list_files(path) == sorted(files, key=lambda p: p.name)
    (path / "other.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"other\.npz"):
        list_files(path)
    assert len(list_files(path, strict=False)) == len(files)


def test_split_deterministic_and_order_independent():
    names = [
        format_name(dt.date(2106 + i % 9, 1 + i % 12, 1 + i % 28), i % 8, (1, 2, 3, 4, 6)[i % 5])
        for i in range(500)
    ]
    names = sorted(set(names))
    shuffled = names[:]
    random.Random(1).shuffle(shuffled)
    a, b = split_files(names, seed=3), split_files(shuffled, seed=3)
    assert a == b
    assert (len(a.train), len(a.val), len(a.test)) == (
        round(0.7 * len(names)),
        round(0.1 * len(names)),
        len(names) - round(0.7 * len(names)) - round(0.1 * len(names)),
    )
    assert set(a.train) | set(a.val) | set(a.test) == {Path(n) for n in names}
    assert split_files(names, seed=4).train != a.train
    y = split_by_year(names, range(2106, 2112), [2112], [2113, 2114])
    assert all(parse_name(p.name).year < 2112 for p in y.train)
    assert {parse_name(p.name).year for p in y.test} == {2113, 2114}
    with pytest.raises(ValueError, match="disjoint"):
        split_by_year(names, [2106], [2106], [])
    with pytest.raises(ValueError, match="fractions"):
        split_files(names, (0.5, 0.1, 0.1))


def test_compute_stats_streamed_matches_dense(folder, tmp_path):
    _, files = folder
    mean, std = compute_stats(files)
    dense = np.concatenate([read_sample(f)[0] for f in files], axis=1).astype(np.float64)
    np.testing.assert_allclose(mean, dense.mean(1), rtol=1e-9)
    np.testing.assert_allclose(std, dense.std(1), rtol=1e-6)
    save_stats(tmp_path / "s.json", mean, std)
    m2, s2 = load_stats(tmp_path / "s.json")
    np.testing.assert_allclose(m2, mean) and np.testing.assert_allclose(s2, std)
    (tmp_path / "bad.json").write_text(json.dumps({"mean": [0] * 3, "std": [1] * 3}))
    with pytest.raises(ValueError):
        load_stats(tmp_path / "bad.json")


def test_dataset_frames_normalised(folder):
    _, files = folder
    ds = CAM5Dataset(files)
    assert len(ds) == len(files)
    x, y = ds[0]
    assert (
        x.shape == (V, C)
        and x.dtype == torch.float32
        and y.shape == (V,)
        and y.dtype == torch.int64
    )
    raw, lab = read_sample(ds.files[0])
    np.testing.assert_allclose(
        x.numpy(), (raw.T - CHANNEL_MEAN) / CHANNEL_STD, rtol=1e-4, atol=1e-4
    )
    assert torch.equal(y, torch.from_numpy(lab))
    x2, _ = CAM5Dataset(files, stats=None)[0]
    np.testing.assert_allclose(x2.numpy(), raw.T)


def test_dataset_sequences_respect_runs(folder):
    _, files = folder
    ds = CAM5Dataset(files, seq_len=3, shift=1)
    assert len(ds) == 2 * (6 - 3 - 1 + 1)  # isolated frame and run boundaries excluded
    x, y = ds[0]
    assert x.shape == (3, V, C) and y.shape == (V,)
    # run-1 frames carry label k % 3 at frame k: target is frame 0 + 3 - 1 + 1 = 3
    assert torch.all(y == 0)
    assert torch.all(ds[1][1] == 1)
    keys = [ds.keys[i] for i in range(len(ds.keys))]
    for s in ds._starts:
        frames = [keys[s + t] for t in range(4)]
        assert len({k.run for k in frames}) == 1
        assert [k.step for k in frames] == list(range(frames[0].step, frames[0].step + 4))
    with pytest.raises(ValueError, match="consecutive"):
        CAM5Dataset(files, seq_len=7)


def test_dataset_bad_files(folder):
    _, files = folder
    bad = sorted(files, key=lambda p: p.name)[2]
    bad.write_bytes(bad.read_bytes()[:1000])
    ds = CAM5Dataset(files)
    idx = ds.files.index(bad)
    with pytest.raises(DataFileError, match=bad.name):
        ds[idx]
    ds = CAM5Dataset(files, skip_bad_files=True)
    x, _ = ds[idx]
    assert x.shape == (V, C) and ds.n_skipped == 1 and ds.bad_files == [bad]
    seq = CAM5Dataset(files, seq_len=2, skip_bad_files=True)
    n_before = len(seq)
    assert seq.validate() == 1 and len(seq) < n_before
    for i in range(len(seq)):
        seq[i]
    assert seq.n_skipped == 1


def test_class_counts_stats_path_and_dataloader(folder, tmp_path):
    _, files = folder
    counts = class_counts(files)
    assert counts.sum() == len(files) * V
    assert counts[1] == sum(np.sum(read_sample(f)[1] == 1) for f in files)
    mean, std = compute_stats(files)
    save_stats(tmp_path / "stats.json", mean, std)
    ds = CAM5Dataset(files, stats=tmp_path / "stats.json")
    x, _ = ds[0]
    assert abs(float(x.mean())) < 0.5
    with pytest.raises(ValueError, match="stats"):
        CAM5Dataset(files, stats="nope")
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)
    xb, yb = next(iter(loader))
    assert xb.shape == (4, V, C) and yb.shape == (4, V)


@pytest.mark.parametrize("n_vertices", [162, None])
def test_compute_stats_other_mesh_levels(tmp_path, n_vertices):
    """Files on a level-2 mesh (162 vertices): given or derived vertex count, bad files skipped."""
    from climate_seg.training._toy import write_toy_set

    files = write_toy_set(tmp_path, n_files=5, level=2, seed=3)
    dense = np.concatenate(
        [np.load(f)["data"].astype(np.float64) for f in files], axis=1
    )  # (16, 5 * 162)
    bad = tmp_path / "data-2106-02-01-00-1-mesh.npz"
    bad.write_bytes(files[0].read_bytes()[:300])
    with pytest.raises(DataFileError):
        compute_stats([*files, bad], n_vertices=n_vertices)
    mean, std = compute_stats([bad, *files], n_vertices=n_vertices, skip_bad_files=True)
    np.testing.assert_allclose(mean, dense.mean(1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(std, dense.std(1), rtol=1e-10)
    with pytest.raises(DataFileError, match="10242"):  # the default is the published mesh
        compute_stats(files)


def test_pack_folder_gives_the_same_items_and_skips_bad_files(tmp_path, folder):
    from climate_seg.data import PackedDataset, pack_folder, packed_names

    src, files = folder
    bad = src / format_name(dt.date(2108, 1, 1), 0, 1)
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataFileError, match=bad.name):
        pack_folder(sorted(src.glob("*.npz")), tmp_path / "strict")
    assert not (tmp_path / "strict" / "index.json").exists()
    out = pack_folder(sorted(src.glob("*.npz")), tmp_path / "packed", skip_bad_files=True)
    names = packed_names(out)
    assert names == sorted(f.name for f in files) and bad.name not in names
    for kwargs in ({}, {"seq_len": 2, "shift": 1}):
        npz = CAM5Dataset(files, **kwargs)
        packed = PackedDataset([out / n for n in names], **kwargs)
        assert len(npz) == len(packed)
        for i in range(len(npz)):
            (xa, ya), (xb, yb) = npz[i], packed[i]
            assert torch.equal(ya, yb) and torch.allclose(xa, xb, atol=1e-6)


def test_time_and_year_splits_keep_neighbouring_frames_together():
    from climate_seg.data import make_split

    start = dt.datetime(2106, 1, 1)
    names = [
        format_name(
            (start + dt.timedelta(hours=3 * k)).date(),
            ((start + dt.timedelta(hours=3 * k)).hour) // 3,
            1,
        )
        for k in range(100)
    ]
    names += [
        format_name(dt.date(2106, 1, 1) + dt.timedelta(days=k), 0, 2) for k in range(10)
    ]  # a second run
    files = [Path(n) for n in names]
    random.Random(0).shuffle(files)
    tr, va, te = make_split(files, "time")
    assert (len(tr), len(va), len(te)) == (77, 11, 22)
    key = lambda p: (parse_name(p.name).date, parse_name(p.name).slot)  # noqa: E731
    assert max(map(key, tr)) < min(map(key, va)) and max(map(key, va)) < min(
        map(key, te)
    )  # contiguous blocks
    years = [Path(format_name(dt.date(y, 3, 1), s, 1)) for y in range(2106, 2116) for s in range(4)]
    tr, va, te = make_split(years, "year")
    by_year = [{parse_name(p.name).year for p in part} for part in (tr, va, te)]
    assert by_year == [set(range(2106, 2113)), {2113}, {2114, 2115}]
    with pytest.raises(ValueError, match="at least 3 years"):
        make_split(files, "year")
    assert make_split(files, "random", seed=1) == make_split(sorted(files), "random", seed=1)


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        (np.zeros((3, V), np.float32), "without a class"),
        (np.full((3, V), 0.5, np.float32), "other than 0 and 1"),
        (np.ones((3, V), np.float32), "with several"),
        (np.zeros(V, np.int64), "class indices"),
    ],
)
def test_labels_must_be_one_hot(tmp_path, labels, problem):
    path = tmp_path / format_name(dt.date(2106, 1, 1), 0, 1)
    np.savez(path, data=np.zeros((C, V), np.float32), labels=labels)
    with pytest.raises(DataFileError, match=problem) as err:
        read_sample(path)
    assert err.value.problem == "labels" and err.value.path == path


def test_fill_values_are_named(tmp_path):
    path = tmp_path / format_name(dt.date(2106, 1, 1), 0, 1)
    data = np.zeros((C, V), np.float32)
    data[5, 7] = 1e20
    np.savez(path, data=data, labels=np.eye(3, dtype=np.float32)[:, np.zeros(V, int)])
    with pytest.raises(DataFileError, match=r"fill values.*channel 5") as err:
        read_sample(path)
    assert err.value.problem == "fill_value"

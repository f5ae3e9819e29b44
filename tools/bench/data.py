"""Benchmark: climate-seg's input pipeline (samples/s) beside the U-Net's training step, in one run.

Timed in ONE process, interleaved repetitions (median reported):

* ``np.load``      the peer: a bare ``np.load`` of each file, touching ``data`` and ``labels``
                   (files/s; what decoding the npz container costs at least);
* ``npz  <grid>``  ``climate_seg.pipeline.dataset_for`` on the npz files: read and validate,
                   normalise, resample to the grid (icosahedral level 5 = native, HEALPix
                   nside 32, equiangular 64 x 128) -- the exact path of ``climate-seg train``;
* ``pack <grid>``  the same on the memory-mapped layout of ``climate-seg data pack``;

each through a ``DataLoader`` (batch 8, the training loader's ``worker_init_fn``) with 0 and
2 worker processes; ``per worker`` is samples/s divided by max(1, workers). Beside them, the
training samples/s of the U-Net presets (forward + backward + Adam step, batch 8, native mesh)
on the CPU and, when present, on the GPU. Files are in the page cache (a warm-up pass reads
them all first). The output starts with the date, the commit and the core count, and ends
with a markdown table (rows: layout and grid; columns: worker counts) for the README. With
``workers + 1`` processes on fewer cores the machine is oversubscribed and the per-worker
figures understate what a worker with its own core delivers; the output says so.

Usage::

    python tools/bench/data.py                  # 256 synthetic files in real format, 3 repetitions
    python tools/bench/data.py --quick          # 64 files, 1 repetition (smoke test)
    python tools/bench/data.py --folder DIR     # your own data-*-mesh.npz files
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# tools/bench/cheb_conv.py would shadow the cheb_conv package: keep this folder off sys.path
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [q for q in sys.path if os.path.abspath(q or os.getcwd()) != _HERE]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from climate_seg.config import TrainConfig  # noqa: E402
from climate_seg.data import CHANNEL_MEAN, CHANNEL_STD, format_name, pack_folder  # noqa: E402
from climate_seg.models import build_model, data_mesh, parameter_count, sampling_for  # noqa: E402
from climate_seg.pipeline import dataset_for, loader_worker_init  # noqa: E402
from climate_seg.transform import MeshGrid  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

GRIDS = (("icosahedral", 5), ("healpix", 32), ("equiangular", 64))


def write_files(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` files in the published format (uncompressed npz, float32 fields and one-hot labels)."""
    import datetime as dt

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    eye = np.eye(3, dtype=np.float32)
    out = []
    start = dt.datetime(2106, 1, 1)
    for k in range(n):
        t = start + dt.timedelta(hours=3 * k)
        data = (
            CHANNEL_MEAN[:, None] + CHANNEL_STD[:, None] * rng.standard_normal((16, 10242))
        ).astype(np.float32)
        labels = rng.choice(3, size=10242, p=[0.977, 0.001, 0.022])
        path = folder / format_name(t.date(), t.hour // 3, 1)
        np.savez(path, data=data, labels=np.ascontiguousarray(eye[:, labels]))
        out.append(path)
    return out


def time_npload(files: list[Path]) -> float:
    start = time.perf_counter()
    for f in files:
        with np.load(f) as z:
            z["data"].sum(), z["labels"].shape
    return len(files) / (time.perf_counter() - start)


def time_loader(ds: object, workers: int, batch: int) -> float:
    loader = DataLoader(
        ds,
        batch_size=batch,
        num_workers=workers,
        shuffle=False,
        persistent_workers=False,
        multiprocessing_context="fork" if workers else None,
        worker_init_fn=loader_worker_init if workers else None,
    )
    start = time.perf_counter()
    n = 0
    for x, _, _ in loader:
        n += x.shape[0]
    return n / (time.perf_counter() - start)


def provenance() -> str:
    """Date (UTC), commit (``+dirty`` with uncommitted changes) and cores of this run."""
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--", "packages/climate-seg/src", "tools/bench/data.py"):
        commit += "+dirty"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{when}, commit {commit}, {cores} CPU cores, torch {torch.__version__}"


def markdown(results: dict[str, list[float]], workers: list[int]) -> list[str]:
    """The loader medians as a markdown table: one row per layout and grid, total and per worker."""
    head = ["pipeline"] + [
        f"{w} workers" + (" (total / per worker)" if w > 1 else "") for w in workers
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for src in ("npz", "pack"):
        for kind, res in GRIDS:
            grid = {"icosahedral": "native (icosahedral 5)", "healpix": f"HEALPix nside {res}"}
            cells = [
                f"{'npz files' if src == 'npz' else 'packed'}, "
                + grid.get(kind, f"equiangular {res} x {2 * res}")
            ]
            for w in workers:
                values = results.get(f"{src} {kind} w{w}")
                if not values:
                    cells.append("")
                    continue
                med = statistics.median(values)
                cells.append(f"{med:,.0f}" + (f" / {med / w:,.0f}" if w > 1 else ""))
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def time_training(model: torch.nn.Module, device: torch.device, batch: int, steps: int) -> float:
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.randn(batch, 10242, 16, device=device)
    y = torch.randint(0, 3, (batch, 10242), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(2):  # warm-up (operator caches, cuDNN)
        opt.zero_grad()
        loss_fn(model(x).reshape(-1, 3), y.reshape(-1)).backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model(x).reshape(-1, 3), y.reshape(-1)).backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--folder", type=Path, help="existing data-*-mesh.npz files (default: synthesise --files)"
    )
    ap.add_argument("--files", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", default="0,2")
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--presets", default="small,deepsphere")
    ap.add_argument("--quick", action="store_true", help="64 files, 1 repetition")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()
    if args.quick:
        args.files, args.reps = 64, 1
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    workers = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        if args.folder:
            from climate_seg.data import list_files

            files = list_files(args.folder)[: args.files]
        else:
            files = write_files(Path(tmp) / "npz", args.files)
        packed = pack_folder(files, Path(tmp) / "packed")
        packed_files = [packed / f.name for f in files]
        time_npload(files)  # page cache
        mesh = data_mesh(10242)
        mean, std = CHANNEL_MEAN, CHANNEL_STD
        configs = {}
        for kind, res in GRIDS:
            transform = MeshGrid.between(mesh, sampling_for(kind, res))
            cfg = TrainConfig(sampling=kind, resolution=res)  # type: ignore[arg-type]
            for src, fs in (("npz", files), ("pack", packed_files)):
                for w in workers:
                    configs[(src, kind, w)] = dataset_for(fs, mean, std, cfg, transform)
        devices = [torch.device("cpu")] + (
            [torch.device("cuda")] if torch.cuda.is_available() else []
        )
        models = {}
        for preset in args.presets.split(","):
            cfg = TrainConfig(preset=preset)  # type: ignore[arg-type]
            models[preset] = build_model(cfg, sampling_for("icosahedral", 5))
        results: dict[str, list[float]] = {}
        for _ in range(args.reps):
            results.setdefault("np.load", []).append(time_npload(files))
            for (src, kind, w), ds in configs.items():
                results.setdefault(f"{src} {kind} w{w}", []).append(time_loader(ds, w, args.batch))
            for preset, model in models.items():
                for dev in devices:
                    if dev.type == "cpu" and preset == "deepsphere" and args.quick:
                        continue
                    steps = args.train_steps if dev.type == "cpu" else 20
                    results.setdefault(f"train {preset} {dev.type}", []).append(
                        time_training(model, dev, args.batch, steps)
                    )
        peer = statistics.median(results["np.load"])
        print(provenance())
        print(
            f"{len(files)} files of (16, 10242) float32 in the page cache, batch {args.batch}, "
            f"{args.reps} interleaved repetitions, median; torch threads {torch.get_num_threads()}"
        )
        print(f"{'pipeline':32} {'samples/s':>10} {'per worker':>11} {'vs np.load':>11}")
        print(f"{'np.load (peer, files/s)':32} {peer:10.0f} {peer:11.0f} {1.0:11.2f}")
        rows = []
        for name, values in results.items():
            if name == "np.load":
                continue
            med = statistics.median(values)
            if name.startswith("train"):
                preset = name.split()[1]
                print(
                    f"{name + f' ({parameter_count(models[preset]):,} p)':32} {med:10.1f} {'':>11} {'':>11}"
                )
            else:
                w = int(name.rsplit("w", 1)[1])
                print(f"{name:32} {med:10.0f} {med / max(w, 1):11.0f} {med / peer:11.2f}")
            rows.append({"name": name, "samples_per_s": med, "all": values})
        print()
        print("\n".join(markdown(results, workers)))
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        busy = [w for w in workers if w + 1 > (cores or 1)]
        if busy:
            print(
                f"\nnote: {cores} cores for {max(busy)} workers + the main process: oversubscribed; "
                "the per-worker figures with workers understate a worker with its own core."
            )
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    {"provenance": provenance(), "np_load_files_per_s": peer, "results": rows},
                    indent=1,
                )
            )


if __name__ == "__main__":
    main()

"""Benchmark of sphere_graphs graph construction: k-NN and mesh graphs + Laplacian.

Every case runs in a fresh subprocess so that its peak resident memory (``ru_maxrss``
of that process, sampling included) is its own. Timed: graph + combinatorial
Laplacian, after the sampling has been made (untimed). Baseline: a bare
``scipy.spatial.cKDTree(coords).query(coords, k=k+1, workers=-1)`` (tree build +
query, the k-NN alone, no weights, no symmetrisation, no Laplacian) on the same
points; the table prints ours / baseline.

Usage::

    python tools/bench/graphs.py --quick              # nside 256, icosahedral level 6
    python tools/bench/graphs.py --nside 1024 --k 8   # the acceptance case + ico level 9
    python tools/bench/graphs.py --nside2048          # adds HEALPix nside 2048 (ours only)

Goals (2-core machine): nside 1024, k 8, NESTED: <= 10 s, <= 4 GiB peak, and not
slower than the cKDTree baseline; icosahedral level 9 mesh graph < 10 s; nside 2048
within 24 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _run_case(case: str, size: int, k: int) -> dict:
    import numpy as np
    import sphere_graphs as sg

    out: dict = {"case": case, "size": size, "k": k}
    if case in ("knn", "kdtree"):
        sampling = sg.healpix(size, nest=True)
    elif case == "ico_mesh":
        sampling = sg.icosahedral(size)
    else:
        raise ValueError(case)
    out["V"] = sampling.n_vertices
    out["rss_sampling_gib"] = _rss_gib()
    t0 = time.perf_counter()
    c0 = time.process_time()
    if case == "kdtree":
        from scipy.spatial import cKDTree

        cKDTree(sampling.coords).query(sampling.coords, k=k + 1, workers=-1)
        out["seconds"] = time.perf_counter() - t0
        out["cpu_seconds"] = time.process_time() - c0
    else:
        graph = sg.knn_graph(sampling, k) if case == "knn" else sg.mesh_graph(sampling)
        t1 = time.perf_counter()
        L = graph.laplacian()
        t2 = time.perf_counter()
        out.update(
            cpu_seconds=time.process_time() - c0,
            seconds=t2 - t0,
            graph_seconds=t1 - t0,
            laplacian_seconds=t2 - t1,
            nnz=int(graph.adjacency.nnz),
            laplacian_nnz=int(L.nnz),
        )
        assert np.isfinite(L.data).all()
    out["peak_rss_gib"] = _rss_gib()
    return out


def _spawn(case: str, size: int, k: int) -> dict:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--case",
        case,
        "--size",
        str(size),
        "--k",
        str(k),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {
            "case": case,
            "size": size,
            "k": k,
            "error": (proc.stderr or proc.stdout).strip()[-400:],
        }
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--nside", type=int, default=1024, help="HEALPix nside of the k-NN case (default 1024)"
    )
    p.add_argument("--k", type=int, default=8, help="neighbours per vertex (default 8)")
    p.add_argument(
        "--ico-level", type=int, default=9, help="icosahedral level of the mesh case (default 9)"
    )
    p.add_argument(
        "--quick", action="store_true", help="small sizes: nside 256, icosahedral level 6"
    )
    p.add_argument(
        "--nside2048", action="store_true", help="also build the nside 2048 k-NN graph (ours only)"
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the cKDTree baseline")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.case:  # child process
        print(json.dumps(_run_case(args.case, args.size, args.k)))
        return 0

    nside, level = (256, 6) if args.quick else (args.nside, args.ico_level)
    rows = []
    ours = _spawn("knn", nside, args.k)
    base = None if args.no_baseline else _spawn("kdtree", nside, args.k)
    rows.append((f"healpix nside={nside} k={args.k} knn+L", ours, base))
    rows.append((f"icosahedral level={level} mesh+L", _spawn("ico_mesh", level, 0), None))
    if args.nside2048:
        rows.append((f"healpix nside=2048 k={args.k} knn+L", _spawn("knn", 2048, args.k), None))

    print(
        f"{'case':36s} {'V':>11s} {'ours s':>8s} {'graph s':>8s} {'L s':>6s} {'cpu s':>6s} {'peak GiB':>9s}"
        f" {'cKDTree s':>10s} {'cpu s':>6s} {'tree GiB':>9s} {'ratio':>6s}"
    )
    for name, r, b in rows:
        if "error" in r:
            print(f"{name:36s} FAILED: {r['error']}")
            continue
        line = (
            f"{name:36s} {r['V']:>11,d} {r['seconds']:8.2f} {r['graph_seconds']:8.2f}"
            f" {r['laplacian_seconds']:6.2f} {r['cpu_seconds']:6.2f} {r['peak_rss_gib']:9.2f}"
        )
        if b and "error" not in b:
            line += (
                f" {b['seconds']:10.2f} {b['cpu_seconds']:6.2f} {b['peak_rss_gib']:9.2f}"
                f" {r['seconds'] / b['seconds']:6.2f}"
            )
        print(line)
    print(
        f"(cpus: {os.cpu_count()}; load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())};"
        " ratio = ours / cKDTree wall time, < 1 is faster; cpu = process CPU time, all threads)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"name": n, "ours": r, "baseline": b} for n, r, b in rows], f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: a whole U-Net hierarchy versus the finest level's graph.

Compares, at HEALPix NESTED nside 512 and 1024 (k = 8, combinatorial Laplacian):

* ``peer``: ``sphere_graphs.knn_graph(healpix(nside), 8)`` + ``.laplacian()`` (the finest
  level's graph and Laplacian alone);
* ``ours``: ``sphere_graphs.graph_hierarchy(healpix(nside), depth)``: graphs, rescaled
  Laplacians (cheap lmax bound) and coarsenings of all ``depth + 1`` levels.

Each measurement runs in a fresh subprocess (its own peak RSS, ``ru_maxrss``); the two
cases are interleaved, repeated, and the median of the per-repetition ratios
``ours / peer`` is printed. Goal: ratio <= 2 at nside 512 and 1024 (issue 11).

Usage::

    cpu-slot bench /work/devenv/bin/python tools/bench/hierarchy.py             # 512 and 1024
    cpu-slot bench /work/devenv/bin/python tools/bench/hierarchy.py --nside 256 --reps 2
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def _case(case: str, nside: int, depth: int) -> dict:
    import numpy as np
    import sphere_graphs as sg

    sampling = sg.healpix(nside, nest=True)
    t0 = time.perf_counter()
    if case == "peer":
        g = sg.knn_graph(sampling, 8)
        g.laplacian("combinatorial")
    else:
        sg.graph_hierarchy(sampling, depth, k=8, laplacian="combinatorial", dtype=np.float32)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"case": case, "nside": nside, "seconds": seconds, "peak_gib": rss}


def _spawn(case: str, nside: int, depth: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, "--nside", str(nside), "--depth", str(depth)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nside", type=int, nargs="*", default=[512, 1024])
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--child", choices=["peer", "ours"])
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_case(args.child, args.nside[0], args.depth)))
        return
    print(f"{'nside':>6} {'peer s':>8} {'ours s':>8} {'ratio':>6} {'peer GiB':>9} {'ours GiB':>9}")
    for nside in args.nside:
        ratios, peers, ours = [], [], []
        for _ in range(args.reps):
            p = _spawn("peer", nside, args.depth)
            o = _spawn("ours", nside, args.depth)
            peers.append(p)
            ours.append(o)
            ratios.append(o["seconds"] / p["seconds"])
        print(
            f"{nside:>6} {statistics.median(r['seconds'] for r in peers):8.2f} "
            f"{statistics.median(r['seconds'] for r in ours):8.2f} {statistics.median(ratios):6.2f} "
            f"{max(r['peak_gib'] for r in peers):9.2f} {max(r['peak_gib'] for r in ours):9.2f}"
        )
    print(
        f"ratio = median over {args.reps} interleaved repetitions of ours / peer (goal <= 2); "
        f"ours = graph_hierarchy(depth={args.depth}), peer = knn_graph + laplacian of the finest level."
    )


if __name__ == "__main__":
    main()

"""Benchmark: cost of building a sphere-unet model, and inference cost per vertex.

Build: ``SphericalUNet(sg.healpix(nside), in_channels=1, out_channels=2, depth=4,
width=16)`` (graphs, rescaled Laplacians, coarsenings and pooling maps of every level,
parameters) against its peer, ``sg.knn_graph(sg.healpix(nside), k=8)`` plus its
combinatorial Laplacian (the finest level's graph alone). The two alternate in one
process (``--reps`` pairs, after one untimed pair); the figure is the median over pairs
of ``t_model / t_graph`` (goal: <= 2). The sampling is made before each timing
(untimed). Each nside runs in a fresh subprocess so that its peak resident memory
(``ru_maxrss``, interpreter and sampling included) is its own.

Inference: the same model (eval, ``torch.inference_mode``, B = 1, float32) on nside
64 ... 512; nanoseconds per vertex (median of ``--inf-reps`` calls after one warm-up);
it should stay flat as V grows (linear cost).

Usage::

    python tools/bench/build.py --quick                   # nside 128 build, inference 64-128
    python tools/bench/build.py                           # nside 512 build, inference 64-512
    python tools/bench/build.py --build-nsides 512 1024   # adds nside 1024 (about 10 GiB)
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _build_case(nside: int, reps: int) -> dict:
    import sphere_graphs as sg
    import sphere_unet as su

    def graph() -> float:
        s = sg.healpix(nside)
        t = time.perf_counter()
        g = sg.knn_graph(s, k=8)
        g.laplacian("combinatorial")
        return time.perf_counter() - t

    def model() -> float:
        s = sg.healpix(nside)
        t = time.perf_counter()
        su.SphericalUNet(s, in_channels=1, out_channels=2, depth=4, width=16)
        return time.perf_counter() - t

    graph(), model()  # warm-up (imports, allocator)
    tg, tm = [], []
    for _ in range(reps):
        tg.append(graph())
        tm.append(model())
    ratios = [m / g for m, g in zip(tm, tg, strict=True)]
    return {
        "nside": nside,
        "V": 12 * nside * nside,
        "graph_s": statistics.median(tg),
        "model_s": statistics.median(tm),
        "ratio": statistics.median(ratios),
        "peak_gib": _rss_gib(),
    }


def _inference_case(nside: int, reps: int) -> dict:
    import sphere_graphs as sg
    import sphere_unet as su
    import torch

    torch.manual_seed(0)
    s = sg.healpix(nside)
    m = su.SphericalUNet(s, in_channels=1, out_channels=2, depth=4, width=16).eval()
    x = torch.randn(1, s.n_vertices, 1)
    times = []
    with torch.inference_mode():
        m(x)
        for _ in range(reps):
            t = time.perf_counter()
            m(x)
            times.append(time.perf_counter() - t)
    t = statistics.median(times)
    return {"nside": nside, "V": s.n_vertices, "s": t, "ns_per_vertex": 1e9 * t / s.n_vertices}


def _subprocess(kind: str, nside: int, reps: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-P",
            __file__,
            "--case",
            kind,
            str(nside),
            str(reps),
        ],  # -P: not tools/bench/cheb_conv.py
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return {
            "nside": nside,
            "error": out.stderr.strip().splitlines()[-1] if out.stderr else f"rc {out.returncode}",
        }
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--build-nsides", type=int, nargs="*", default=None)
    parser.add_argument("--inf-nsides", type=int, nargs="*", default=None)
    parser.add_argument("--reps", type=int, default=3, help="interleaved build pairs per nside")
    parser.add_argument("--inf-reps", type=int, default=3)
    parser.add_argument(
        "--case", nargs=3, metavar=("KIND", "NSIDE", "REPS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.case:
        kind, nside, reps = args.case[0], int(args.case[1]), int(args.case[2])
        res = _build_case(nside, reps) if kind == "build" else _inference_case(nside, reps)
        print(json.dumps(res))
        return
    build = args.build_nsides if args.build_nsides is not None else ([128] if args.quick else [512])
    inference = (
        args.inf_nsides
        if args.inf_nsides is not None
        else ([64, 128] if args.quick else [64, 128, 256, 512])
    )
    print(
        "build: SphericalUNet(healpix(nside), 1, 2, depth=4, width=16) vs knn_graph(k=8) + Laplacian"
    )
    print(
        f"{'nside':>6} {'V':>10} {'graph s':>9} {'model s':>9} {'model/graph':>12} {'peak GiB':>9}"
    )
    for nside in build:
        r = _subprocess("build", nside, args.reps)
        if "error" in r:
            print(f"{nside:>6} failed: {r['error']}")
            continue
        print(
            f"{nside:>6} {r['V']:>10} {r['graph_s']:>9.2f} {r['model_s']:>9.2f} {r['ratio']:>11.2f}x {r['peak_gib']:>9.2f}"
        )
    print("inference: eval, inference_mode, B = 1, float32")
    print(f"{'nside':>6} {'V':>10} {'s / call':>9} {'ns / vertex':>12}")
    for nside in inference:
        r = _subprocess("inference", nside, args.inf_reps)
        if "error" in r:
            print(f"{nside:>6} failed: {r['error']}")
            continue
        print(f"{nside:>6} {r['V']:>10} {r['s']:>9.3f} {r['ns_per_vertex']:>12.0f}")


if __name__ == "__main__":
    main()

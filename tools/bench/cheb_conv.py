"""Benchmark of cheb_conv.ChebConv: forward + backward, against its own GEMM floor.

Implementations timed in ONE run (interleaved repetitions, best-of and median):

* ``gemm``       the layer's dense GEMMs alone (the physical floor):
                 forward (B*V, K*C_in) @ (K*C_in, C_out), backward
                 (B*V, C_out) @ (C_out, K*C_in) and (K*C_in, B*V) @ (B*V, C_out).
* ``cheb_conv``  this package (``ChebConv`` with a stored operator).
* ``straight``   the straightforward implementation used by deepsphere-pytorch
                 (permute to (V, C*B), torch.sparse.mm per order on a COO
                 Laplacian, torch.cat of the T_k, permute, matmul; plain autograd).
* ``pyg``        torch_geometric.nn.ChebConv on the batched disjoint graph.

Graph: ``sphere_graphs.knn_graph`` of a HEALPix / icosahedral sampling when that
package provides it, otherwise an 8-neighbour (Moore) lattice graph with the
same V (row-major on a near-square grid, locality comparable to NEST ordering).

Usage::

    python tools/bench/cheb_conv.py --quick      # V=49152, B=8 only (acceptance)
    python tools/bench/cheb_conv.py              # + sweep V x B and peak memory

Peak memory is measured in fresh subprocesses: growth of the peak RSS during the
first forward+backward after building the graph and inputs (the kernel's peak
mark is reset first via /proc/self/clear_refs; includes one-time caches such as
the block-diagonal operator); ``torch.cuda.max_memory_allocated`` on CUDA.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings

import torch

# this file is named cheb_conv.py: keep its folder off sys.path so that
# ``import cheb_conv`` finds the package, not this script
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [q for q in sys.path if os.path.abspath(q or os.getcwd()) != _HERE]

warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
warnings.filterwarnings("ignore", message=".*Sparse invariant checks.*")

MAIN = dict(V=49152, B=8, C=64, K=3)
IMPLS = ("gemm", "cheb_conv", "straight", "pyg")


# ----------------------------------------------------------------------------- graphs
def lattice_edges(V: int) -> torch.Tensor:
    """Directed edge list (2, E) of an 8-neighbour lattice graph on V vertices."""
    w = math.ceil(math.sqrt(V))
    idx = torch.arange(V)
    r, c = idx // w, idx % w
    src, dst = [], []
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == 0 and dc == 0:
                continue
            rr, cc = r + dr, (c + dc) % w  # periodic in columns, open in rows
            j = rr * w + cc
            ok = (rr >= 0) & (j < V) & (j >= 0)
            src.append(idx[ok])
            dst.append(j[ok])
    return torch.stack([torch.cat(src), torch.cat(dst)])


def sphere_edges(V: int):
    try:
        import sphere_graphs as sg

        if (
            V in (12 * 64**2, 12 * 128**2, 12 * 32**2)
            and hasattr(sg, "healpix")
            and hasattr(sg, "knn_graph")
        ):
            nside = round(math.sqrt(V / 12))
            g = sg.knn_graph(sg.healpix(nside), k=8)
        elif V == 10242 and hasattr(sg, "icosahedral") and hasattr(sg, "knn_graph"):
            g = sg.knn_graph(sg.icosahedral(5), k=8)
        else:
            return None
        A = g.adjacency.tocoo()
        A = A.maximum(A.T).tocoo() if hasattr(A, "maximum") else A
        import numpy as np

        ei = torch.from_numpy(np.vstack([A.row, A.col]).astype(np.int64))
        return ei, torch.from_numpy(A.data.astype(np.float32)), "sphere_graphs.knn_graph"
    except Exception:
        return None


def build_graph(V: int):
    """Returns (edge_index, edge_weight, rescaled Laplacian CSR float32, description)."""
    import cheb_conv

    got = sphere_edges(V)
    if got is None:
        ei = lattice_edges(V)
        ew = torch.ones(ei.shape[1])
        desc = "8-neighbour lattice"
    else:
        ei, ew, desc = got
    A = cheb_conv.from_edge_index(ei, ew, num_nodes=V)
    L = cheb_conv.rescale(cheb_conv.laplacian(A, "normalized"), lmax=2.0)
    return ei, ew, L, desc


# ------------------------------------------------------------------ implementations
def straight_cheb_conv(lap_coo, x, weight, bias=None):
    """Straightforward ChebNet as in deepsphere-pytorch (the baseline).

    x: (B, V, C_in); weight: (C_in * K, C_out) with row index c * K + k;
    bias (C_out,) added afterwards in place, as deepsphere's layer does.
    """
    B, V, c_in = x.shape
    K = weight.shape[0] // c_in
    t_prev = x.permute(1, 2, 0).contiguous().view(V, c_in * B)  # (V, C_in*B)
    stacked = t_prev.unsqueeze(0)  # grows to (K, V, C_in*B), one cat per order
    if K > 1:
        t_cur = torch.sparse.mm(lap_coo, t_prev)
        stacked = torch.cat((stacked, t_cur.unsqueeze(0)), 0)
        for _ in range(2, K):
            t_next = 2 * torch.sparse.mm(lap_coo, t_cur) - t_prev
            stacked = torch.cat((stacked, t_next.unsqueeze(0)), 0)
            t_prev, t_cur = t_cur, t_next
    stacked = stacked.view(K, V, c_in, B).permute(3, 1, 2, 0).contiguous()  # (B, V, C_in, K)
    out = stacked.view(B * V, c_in * K).matmul(weight).view(B, V, -1)
    if bias is not None:
        out += bias  # in place, as deepsphere-pytorch's layer does
    return out


def make_runner(impl, V, B, C, K, device, graph):
    """Returns a zero-arg callable doing forward + backward, and a check closure."""
    import cheb_conv

    ei, ew, L, _ = graph
    dev = torch.device(device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, V, C, generator=g).to(dev)
    if impl == "gemm":
        a = torch.randn(B * V, K * C, generator=g).to(dev)
        w = torch.randn(K * C, C, generator=g).to(dev)
        gy = torch.randn(B * V, C, generator=g).to(dev)

        def run():
            y = a @ w  # forward
            ga = gy @ w.t()  # grad input
            gw = a.t() @ gy  # grad weight
            return y, ga, gw

        return run
    if impl == "cheb_conv":
        layer = cheb_conv.ChebConv(C, C, K, operator=L).to(dev)
        xr = x.requires_grad_()
        gy = torch.randn(B, V, C, generator=g).to(dev)

        params = [xr, *list(layer.parameters())]

        def run():
            y = layer(xr)
            return torch.autograd.grad(y, params, gy)

        return run
    if impl == "straight":
        lap = L.to_sparse_coo().coalesce().to(dev)
        w = (torch.randn(C * K, C, generator=g) * 0.1).to(dev).requires_grad_()
        b = torch.zeros(C, device=dev, requires_grad=True)
        xr = x.requires_grad_()
        gy = torch.randn(B, V, C, generator=g).to(dev)

        def run():
            y = straight_cheb_conv(lap, xr, w, b)
            return torch.autograd.grad(y, [xr, w, b], gy)

        return run
    if impl == "pyg":
        from torch_geometric.nn import ChebConv as PygCheb

        conv = PygCheb(C, C, K, normalization="sym").to(dev)
        offs = (torch.arange(B) * V).repeat_interleave(ei.shape[1])
        bei = (ei.repeat(1, B) + offs).to(dev)
        bew = ew.repeat(B).to(dev)
        xr = x.reshape(B * V, C).requires_grad_()
        gy = torch.randn(B * V, C, generator=g).to(dev)

        params = [xr, *list(conv.parameters())]
        lmax = torch.tensor(2.0, device=dev)

        def run():
            y = conv(xr, bei, bew, lambda_max=lmax)
            return torch.autograd.grad(y, params, gy)

        return run
    raise ValueError(impl)


def est_bytes(impl, V, B, C, K, nnz_row=9):
    act = B * V * C * 4
    return {
        "gemm": act * (2 * K + 2),
        "cheb_conv": act * (K + 6),
        "straight": act * (4 * K + 6),
        "pyg": act * (3 * K + 4) + B * V * nnz_row * C * 4 * 3,
    }[impl]


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_impls(impls, V, B, C, K, device, graph, reps, budget_s=20.0):
    runners = {}
    for impl in impls:
        runners[impl] = make_runner(impl, V, B, C, K, device, graph)
    times = {impl: [] for impl in impls}
    # warm-up (also builds the block-diagonal operator cache)
    for impl in impls:
        t0 = time.perf_counter()
        runners[impl]()
        sync(device)
        times[impl + "_warm"] = time.perf_counter() - t0
    reps = max(1, min(reps, int(budget_s / max(sum(times[i + "_warm"] for i in impls), 1e-9))))
    for _ in range(reps):  # interleaved so that machine load hits all alike
        for impl in impls:
            sync(device)
            t0 = time.perf_counter()
            runners[impl]()
            sync(device)
            times[impl].append(time.perf_counter() - t0)
    return {
        impl: (min(times[impl]) * 1e3, statistics.median(times[impl]) * 1e3, len(times[impl]))
        for impl in impls
    }


def check_baseline():
    """The straightforward baseline and cheb_conv agree (same weights)."""
    import cheb_conv

    V, B, C, K = 500, 3, 4, 3
    _, _, L, _ = build_graph(V)
    x = torch.randn(B, V, C, dtype=torch.float64)
    w = torch.randn(K, C, 5, dtype=torch.float64)
    ours = cheb_conv.cheb_conv(x, L.double(), w)
    w_straight = w.permute(1, 0, 2).reshape(C * K, 5)  # row c * K + k
    ref = straight_cheb_conv(L.double().to_sparse_coo().coalesce(), x, w_straight)
    err = (ours - ref).abs().max().item()
    assert err < 1e-10, f"baseline disagrees with cheb_conv: {err}"


# ------------------------------------------------------------------------- memory
def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_rss_peak():
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False when impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        _status_kb("VmHWM")
        return True
    except OSError:
        return False


def memory_child(args):
    impl, V, B, C, K, device = args.mem_child.split(",")
    V, B, C, K = int(V), int(B), int(C), int(K)
    torch.set_num_threads(args.threads)
    graph = build_graph(V)
    run = make_runner(impl, V, B, C, K, device, graph)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        gc.collect()
        hwm = _reset_rss_peak()
        base = (
            _status_kb("VmRSS") * 1024
            if hwm
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        run()
        after = (
            _status_kb("VmHWM") * 1024
            if hwm
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        peak = after - base
    print(json.dumps({"peak_mb": peak / 2**20}))


def measure_memory(impl, V, B, C, K, device, threads):
    cmd = [
        sys.executable,
        __file__,
        "--mem-child",
        f"{impl},{V},{B},{C},{K},{device}",
        "--threads",
        str(threads),
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]
    except Exception:
        return float("nan")


# --------------------------------------------------------------------------- main
def fmt_row(cols, widths):
    return "  ".join(str(c).rjust(w) for c, w in zip(cols, widths, strict=False))


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="only the acceptance config V=49152, B=8")
    p.add_argument("--reps", type=int, default=7, help="timed repetitions per implementation")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument(
        "--mem-limit-gb", type=float, default=6.0, help="skip configs estimated above this"
    )
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--memory-only", action="store_true", help="skip the timings")
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument(
        "--device", default=None, help="cpu, cuda, or both (default: cpu [+ cuda if available])"
    )
    p.add_argument("--mem-child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mem_child:
        return memory_child(args)
    torch.set_num_threads(args.threads)
    impls = [i for i in args.impls.split(",") if i]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if args.device in ("cpu", "cuda"):
        devices = [args.device]
    check_baseline()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, devices {devices}")
    C, K = MAIN["C"], MAIN["K"]
    configs = [(MAIN["V"], MAIN["B"])]
    if not args.quick:
        configs += [
            (V, B)
            for V in (10242, 49152, 196608)
            for B in (1, 8, 32)
            if (V, B) != (MAIN["V"], MAIN["B"])
        ]
    graphs = {}
    results = []
    for device in devices if not args.memory_only else []:
        print(
            f"\n== {device}: forward+backward, C_in=C_out={C}, K={K}; times in ms (best / median of n) =="
        )
        widths = [7, 3] + [20] * len(impls) + [9, 9, 9]
        print(fmt_row(["V", "B", *impls, "ours/gemm", "straight/ours", "pyg/ours"], widths))
        for V, B in configs:
            if V not in graphs:
                graphs[V] = build_graph(V)
            limit = args.mem_limit_gb * 2**30
            run_impls = [i for i in impls if est_bytes(i, V, B, C, K) <= limit]
            if not run_impls:
                print(fmt_row([V, B] + ["skipped (mem)"] * len(impls), widths), flush=True)
                continue
            main_cfg = (V, B) == configs[0]
            res = time_impls(
                run_impls,
                V,
                B,
                C,
                K,
                device,
                graphs[V],
                args.reps if main_cfg else 3,
                budget_s=90.0 if main_cfg else 20.0,
            )
            cols = [V, B]
            for i in impls:
                cols.append(
                    f"{res[i][0]:.1f} / {res[i][1]:.1f} n={res[i][2]}"
                    if i in res
                    else "skipped (mem)"
                )
            best = {i: res[i][0] for i in res}

            def ratio(a, b, best=best):
                return f"{best[a] / best[b]:.2f}" if a in best and b in best else "-"

            cols += [
                ratio("cheb_conv", "gemm"),
                ratio("straight", "cheb_conv"),
                ratio("pyg", "cheb_conv"),
            ]
            print(fmt_row(cols, widths), flush=True)
            results.append((device, V, B, res))
        print(
            f"graph: {graphs[configs[0][0]][3]} ({graphs[configs[0][0]][2]._nnz() / configs[0][0]:.1f} nnz/row in L~)"
        )
    if not args.no_memory:
        mem_configs = [(MAIN["V"], MAIN["B"])] if args.quick else [(V, 8) for V in (49152, 196608)]
        for device in devices:
            print(
                f"\n== peak memory during one forward+backward, {device}, MiB (fresh subprocess each) =="
            )
            print(fmt_row(["V", "B", *impls], [7, 3] + [12] * len(impls)))
            for V, B in mem_configs:
                cols = [V, B]
                for i in impls:
                    if est_bytes(i, V, B, C, K) > args.mem_limit_gb * 2**30:
                        cols.append("skipped")
                    else:
                        cols.append(f"{measure_memory(i, V, B, C, K, device, args.threads):.0f}")
                print(fmt_row(cols, [7, 3] + [12] * len(impls)), flush=True)
    main_res = [r for r in results if r[0] == "cpu" and (r[1], r[2]) == (MAIN["V"], MAIN["B"])]
    if main_res:
        best = {i: v[0] for i, v in main_res[0][3].items()}
        print("\nacceptance (cpu, V=49152, B=8, C=64, K=3, best-of times measured in this run):")
        if "gemm" in best and "cheb_conv" in best:
            r = best["cheb_conv"] / best["gemm"]
            print(
                f"  cheb_conv / gemm floor   = {r:.2f}  (target <= 1.5)  {'OK' if r <= 1.5 else 'MISS'}"
            )
        if "straight" in best and "cheb_conv" in best:
            r = best["straight"] / best["cheb_conv"]
            print(
                f"  straightforward / ours   = {r:.2f}  (target >= 3)    {'OK' if r >= 3 else 'MISS'}"
            )
        if "pyg" in best and "cheb_conv" in best:
            r = best["pyg"] / best["cheb_conv"]
            print(
                f"  PyG ChebConv / ours      = {r:.2f}  (target >= 6)    {'OK' if r >= 6 else 'MISS'}"
            )


if __name__ == "__main__":
    main()

"""Benchmark of cheb_conv.ChebConv: forward + backward, against its own GEMM floor.

Implementations timed in ONE run (interleaved repetitions):

* ``gemm``       the layer's dense GEMMs alone (the physical floor):
                 forward (B*V, K*C_in) @ (K*C_in, C_out), backward
                 (B*V, C_out) @ (C_out, K*C_in) and (K*C_in, B*V) @ (B*V, C_out).
* ``cheb_conv``  this package (``ChebConv`` with a stored operator, layout (B, V, C)).
* ``straight``   the straightforward implementation used by deepsphere-pytorch
                 (permute to (V, C*B), torch.sparse.mm per order on a COO
                 Laplacian, torch.cat of the T_k, permute, matmul; plain autograd).
* ``pyg``        torch_geometric.nn.ChebConv on the batched disjoint graph.
* ``spmm``       not an implementation: the ``2 (K - 1)`` sparse products a
                 forward + backward of the layer needs, alone
                 (``cheb_conv.sparse_apply`` with the block-diagonal operator on
                 the ``(B*V, C)`` rows, as the layer does them). ``spmm/gemm`` shows
                 how much of the GEMM floor the sparse products alone already
                 take: the layer cannot get below ``1 + spmm/gemm`` times the floor
                 unless its GEMMs beat the floor's.

Ratios are medians over the repetitions of the per-repetition ratios (each
repetition times every implementation once, back to back), so a load change on
the shared machine hits numerator and denominator alike. Each acceptance
configuration runs in a fresh subprocess (the allocator state left by another
configuration changes the baseline's time: after the V = 49152 run, the
straightforward layer at V = 10242 took 147 ms instead of ~220 ms); the sweep
runs in this process.

Graphs: ``sphere_graphs.knn_graph(k=8)`` of HEALPix (V = 12 nside^2) or of the
icosahedral level 5 (V = 10242, the AR/TC U-Net's finest level), normalised
Laplacian rescaled with lmax = 2.

Acceptance configurations (C_in = C_out = 64, K = 3, B = 8, forward + backward):

* V = 49152 (HEALPix nside 64): cheb_conv <= 1.5x the GEMM floor, >= 3x
  straight, >= 6x PyG;
* V = 10242 (icosahedral level 5, the U-Net's shapes): <= 1.3x the GEMM floor,
  >= 3x straight (PyG reported without a goal).

Usage::

    python tools/bench/cheb_conv.py --quick      # the two acceptance configurations
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

C_MAIN, K_MAIN = 64, 3
# (V, B): goals as {ratio name: (comparison, bound)}
ACCEPT = {
    (49152, 8): {"ours/gemm": ("<=", 1.5), "straight/ours": (">=", 3.0), "pyg/ours": (">=", 6.0)},
    (10242, 8): {"ours/gemm": ("<=", 1.3), "straight/ours": (">=", 3.0)},
}
IMPLS = ("gemm", "cheb_conv", "straight", "pyg", "spmm")
RATIOS = {  # name: (numerator, denominator)
    "ours/gemm": ("cheb_conv", "gemm"),
    "straight/ours": ("straight", "cheb_conv"),
    "pyg/ours": ("pyg", "cheb_conv"),
    "spmm/gemm": ("spmm", "gemm"),
}


# ----------------------------------------------------------------------------- graphs
def sphere_edges(V: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Edge list (2, E), weights (E,) and description of the k = 8 sphere graph with V vertices."""
    import numpy as np
    import sphere_graphs as sg

    if V == 10242:
        sampling, desc = sg.icosahedral(5), "icosahedral level 5"
    elif V % 12 == 0 and round(math.sqrt(V / 12)) ** 2 * 12 == V:
        nside = round(math.sqrt(V / 12))
        sampling, desc = sg.healpix(nside), f"HEALPix nside {nside}"
    else:
        raise ValueError(f"no sphere sampling with V={V}: use 10242 or 12 * nside**2")
    A = sg.knn_graph(sampling, k=8).adjacency.tocoo()  # symmetric (SphereGraph invariant)
    ei = torch.from_numpy(np.vstack([A.row, A.col]).astype(np.int64))
    return ei, torch.from_numpy(A.data.astype(np.float32)), f"sphere_graphs.knn_graph(k=8), {desc}"


def build_graph(V: int):
    """Returns (edge_index, edge_weight, rescaled Laplacian CSR float32, description)."""
    import cheb_conv

    ei, ew, desc = sphere_edges(V)
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
    if impl == "spmm":
        Lb = cheb_conv.SparseOperator(block_diagonal(L, B)).to(dev)
        a = torch.randn(B * V, C, generator=g).to(dev)

        def run():
            h = a
            for i in range(2 * (K - 1)):  # forward: K - 1 products, backward: K - 1
                h = cheb_conv.sparse_apply(Lb, h)
                if i == K - 2:  # the backward starts again from a gradient
                    h = a
            return h

        return run
    raise ValueError(impl)


def block_diagonal(L: torch.Tensor, B: int) -> torch.Tensor:
    """``I_B (x) L`` as a CSR tensor with int32 indices (the layer's batch-major operator)."""
    crow, col, val = L.crow_indices(), L.col_indices(), L.values()
    V, nnz = L.shape[0], col.numel()
    offs = torch.arange(B)
    bcrow = torch.cat(
        [(crow[:-1].unsqueeze(0) + offs.unsqueeze(1) * nnz).reshape(-1), crow[-1:] * B]
    )
    bcol = (col.unsqueeze(0) + offs.unsqueeze(1) * V).reshape(-1)
    return torch.sparse_csr_tensor(
        bcrow.int(), bcol.int(), val.repeat(B), (B * V, B * V), check_invariants=False
    )


def est_bytes(impl, V, B, C, K, nnz_row=9):
    act = B * V * C * 4
    return {
        "gemm": act * (2 * K + 2),
        "cheb_conv": act * (K + 6),
        "straight": act * (4 * K + 6),
        "pyg": act * (3 * K + 4) + B * V * nnz_row * C * 4 * 3,
        "spmm": act * 3,
    }[impl]


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_impls(impls, V, B, C, K, device, graph, reps, budget_s=20.0):
    """Interleaved timings: per implementation the list of seconds, one per repetition."""
    runners = {}
    for impl in impls:
        runners[impl] = make_runner(impl, V, B, C, K, device, graph)
    warm = {}
    # warm-up (also builds the block-diagonal operator cache)
    for impl in impls:
        runners[impl]()
        sync(device)
        t0 = time.perf_counter()
        runners[impl]()
        sync(device)
        warm[impl] = time.perf_counter() - t0
    reps = max(3, min(reps, int(budget_s / max(sum(warm.values()), 1e-9))))
    times = {impl: [] for impl in impls}
    for _ in range(reps):  # interleaved so that machine load hits all alike
        for impl in impls:
            sync(device)
            t0 = time.perf_counter()
            runners[impl]()
            sync(device)
            times[impl].append(time.perf_counter() - t0)
    return times


def ratios(times):
    """Median over repetitions of each per-repetition ratio in RATIOS (absent impls skipped)."""
    out = {}
    for name, (a, b) in RATIOS.items():
        if a in times and b in times:
            out[name] = statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))
    return out


def check_baseline():
    """The straightforward baseline and cheb_conv agree (same weights)."""
    import cheb_conv

    V, B, C, K = 768, 3, 4, 3  # HEALPix nside 8
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


# ------------------------------------------------------------------- fresh timings
def timing_child(args):
    """Time one configuration (``--time-child V,B,device``) and print the times as JSON."""
    V, B, device = args.time_child.split(",")
    V, B = int(V), int(B)
    torch.set_num_threads(args.threads)
    impls = [i for i in args.impls.split(",") if i]
    times = time_impls(
        impls, V, B, C_MAIN, K_MAIN, device, build_graph(V), args.reps, budget_s=90.0
    )
    print(json.dumps(times))


def time_in_child(impls, V, B, device, args):
    cmd = [
        sys.executable,
        __file__,
        "--time-child",
        f"{V},{B},{device}",
        "--impls",
        ",".join(impls),
        "--reps",
        str(args.reps),
        "--threads",
        str(args.threads),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main
def fmt_row(cols, widths):
    return "  ".join(str(c).rjust(w) for c, w in zip(cols, widths, strict=False))


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="only the acceptance configurations")
    p.add_argument(
        "--reps", type=int, default=15, help="timed repetitions (acceptance configurations)"
    )
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument(
        "--mem-limit-gb", type=float, default=6.0, help="skip configs estimated above this"
    )
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--memory-only", action="store_true", help="skip the timings")
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument(
        "--device",
        choices=("cpu", "cuda", "both"),
        default=None,
        help="default: cpu [+ cuda if available]",
    )
    p.add_argument("--json", help="write the timings and ratios to this file")
    p.add_argument("--mem-child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--time-child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mem_child:
        return memory_child(args)
    if args.time_child:
        return timing_child(args)
    torch.set_num_threads(args.threads)
    impls = [i for i in args.impls.split(",") if i]
    if args.device is None:
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = ["cpu", "cuda"] if args.device == "both" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        p.error("--device cuda: torch sees no CUDA device")
    check_baseline()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, devices {devices}")
    C, K = C_MAIN, K_MAIN
    configs = list(ACCEPT)
    if not args.quick:
        configs += [
            (V, B) for V in (10242, 49152, 196608) for B in (1, 8, 32) if (V, B) not in ACCEPT
        ]
    graphs = {}
    results = []
    for device in devices if not args.memory_only else []:
        print(
            f"\n== {device}: forward+backward, C_in=C_out={C}, K={K}; times in ms (median / min of "
            "n interleaved repetitions); ratios: median of per-repetition ratios =="
        )
        widths = [7, 3] + [20] * len(impls) + [13] * len(RATIOS)
        print(fmt_row(["V", "B", *impls, *RATIOS], widths))
        for V, B in configs:
            if V not in graphs:
                graphs[V] = build_graph(V)
            limit = args.mem_limit_gb * 2**30
            run_impls = [i for i in impls if est_bytes(i, V, B, C, K) <= limit]
            if not run_impls:
                print(fmt_row([V, B] + ["skipped (mem)"] * len(impls), widths), flush=True)
                continue
            if (V, B) in ACCEPT:  # a fresh process (see the module docstring)
                times = time_in_child(run_impls, V, B, device, args)
            else:
                times = time_impls(run_impls, V, B, C, K, device, graphs[V], 3, budget_s=20.0)
            rat = ratios(times)
            cols = [V, B]
            for i in impls:
                cols.append(
                    f"{statistics.median(times[i]) * 1e3:.1f} / {min(times[i]) * 1e3:.1f} n={len(times[i])}"
                    if i in times
                    else "skipped (mem)"
                )
            cols += [f"{rat[r]:.2f}" if r in rat else "-" for r in RATIOS]
            print(fmt_row(cols, widths), flush=True)
            results.append(
                {
                    "device": device,
                    "V": V,
                    "B": B,
                    "graph": graphs[V][3],
                    "median_ms": {i: statistics.median(t) * 1e3 for i, t in times.items()},
                    "ratios": rat,
                }
            )
        for V in sorted(graphs):
            print(f"graph V={V}: {graphs[V][3]} ({graphs[V][2]._nnz() / V:.1f} nnz/row in L~)")
    if not args.no_memory:
        mem_configs = list(ACCEPT) if args.quick else [(V, 8) for V in (10242, 49152, 196608)]
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
    for r in results:
        goals = ACCEPT.get((r["V"], r["B"]))
        if r["device"] != "cpu" or goals is None:
            continue
        print(
            f"\nacceptance (cpu, V={r['V']}, B={r['B']}, C={C}, K={K}, median of per-repetition "
            "ratios in this run):"
        )
        for name, value in r["ratios"].items():
            goal = goals.get(name)
            if goal is None:
                print(f"  {name:14s} = {value:5.2f}  (no goal)")
                continue
            op, bound = goal
            ok = value <= bound if op == "<=" else value >= bound
            print(f"  {name:14s} = {value:5.2f}  (goal {op} {bound})  {'OK' if ok else 'MISS'}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()

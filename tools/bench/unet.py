"""Benchmark: the DeepSphere AR/TC U-Net (sphere_unet) vs a baseline with the original layer structure.

The baseline re-implements the original deepsphere-pytorch layer structure (not its
code): Chebyshev convolution as ``permute -> sparse.mm -> cat -> permute -> matmul``
on COO Laplacians, BatchNorm1d through permutes, icosahedral pooling by decimation
(``x[:, :V_coarse]``) and unpooling by zero padding, decoder skips by ``torch.cat``.
Same channels, same parameter count (asserted).

Usage::

    python tools/bench/unet.py            # full run: B=8, icosahedral level 5, K=3
    python tools/bench/unet.py --quick    # smoke run: fewer repetitions, B=2

Timed steps of the two models are interleaved in one process (fair on a shared,
fluctuating machine); each configuration's peak memory (peak RSS ``VmHWM`` on CPU, including the interpreter and torch,
``max_memory_allocated`` on CUDA) comes from a separate fresh process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time

# tools/bench/cheb_conv.py would shadow the cheb_conv package: keep this folder off sys.path
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [q for q in sys.path if os.path.abspath(q or os.getcwd()) != _HERE]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


# ----------------------------------------------------------------------------- baseline
class BaseCheb(nn.Module):
    def __init__(self, cin, cout, K, bias=True):
        super().__init__()
        self.K, self.cin, self.cout = K, cin, cout
        self.weight = nn.Parameter(torch.randn(K, cin, cout) * (2.0 / (K * cin)) ** 0.5)
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None

    def forward(self, lap, x):  # x (B, V, Cin)
        B, V, C = x.shape
        x0 = x.permute(1, 2, 0).contiguous().view(V, C * B)
        basis = x0.unsqueeze(0)
        x1 = torch.sparse.mm(lap, x0)
        basis = torch.cat((basis, x1.unsqueeze(0)), 0)
        for _ in range(2, self.K):
            x2 = 2 * torch.sparse.mm(lap, x1) - x0
            basis = torch.cat((basis, x2.unsqueeze(0)), 0)
            x0, x1 = x1, x2
        basis = basis.view(self.K, V, C, B).permute(3, 1, 2, 0).contiguous().view(B * V, C * self.K)
        w = self.weight.permute(1, 0, 2).reshape(C * self.K, self.cout)
        out = basis.matmul(w).view(B, V, self.cout)
        return out + self.bias if self.bias is not None else out


class BaseChebBN(nn.Module):
    def __init__(self, cin, cout, K):
        super().__init__()
        self.conv = BaseCheb(cin, cout, K)
        self.bn = nn.BatchNorm1d(cout)

    def forward(self, lap, x):
        x = self.conv(lap, x)
        x = self.bn(x.permute(0, 2, 1)).permute(0, 2, 1)
        return F.relu(x)


class BaselineUNet(nn.Module):
    """Original-structure AR/TC U-Net on an icosahedral hierarchy given as COO Laplacians."""

    def __init__(self, laps, vertices, K=3, cin=16, ncls=3):
        super().__init__()
        self.laps, self.vertices = laps, vertices  # finest first
        self.e5a, self.e5b = BaseChebBN(cin, 32, K), BaseChebBN(32, 64, K)
        self.e4, self.e3 = BaseChebBN(64, 128, K), BaseChebBN(128, 256, K)
        self.e2, self.e1 = BaseChebBN(256, 512, K), BaseChebBN(512, 512, K)
        self.e0 = BaseCheb(512, 512, K)
        dims = [(512, 512), (512, 256), (256, 128), (128, 64)]
        skip = [512, 512, 256, 128]
        self.d_up = nn.ModuleList(BaseChebBN(i, o, K) for i, o in dims)
        self.d_cat = nn.ModuleList(
            BaseChebBN(o + s, o, K) for (i, o), s in zip(dims, skip, strict=False)
        )
        self.d5a, self.d5b = BaseChebBN(64, 32, K), BaseCheb(32, ncls, K)

    def pool(self, x, level):
        return x[:, : self.vertices[level]]

    def unpool(self, x, level):
        return F.pad(x, (0, 0, 0, self.vertices[level] - x.shape[1]))

    def forward(self, x):
        L = self.laps
        x5 = self.e5b(L[0], self.e5a(L[0], x))
        x4 = self.e4(L[1], self.pool(x5, 1))
        x3 = self.e3(L[2], self.pool(x4, 2))
        x2 = self.e2(L[3], self.pool(x3, 3))
        x1 = self.e1(L[4], self.pool(x2, 4))
        x = self.e0(L[5], self.pool(x1, 5))
        for j, skip in enumerate([x1, x2, x3, x4]):
            level = 4 - j
            x = self.d_up[j](L[level], self.unpool(x, level))
            x = self.d_cat[j](L[level], torch.cat((x, skip), dim=2))
        x = self.d5a(L[0], self.unpool(x, 0))
        return self.d5b(L[0], x)


# ----------------------------------------------------------------------------- runner
def build(which, device):
    import sphere_unet

    torch.manual_seed(0)
    ours = sphere_unet.deepsphere_artc("icosahedral", K=3)
    if which in ("ours", "ours_bf16"):
        return ours.to(device)
    laps = [
        op.to_sparse_csr(torch.float32).to_sparse_coo().coalesce().to(device)
        for op in ours.stack.operators
    ]
    base = BaselineUNet(laps, ours.stack.vertices).to(device)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_base = sum(p.numel() for p in base.parameters())
    assert n_ours == n_base, (n_ours, n_base)
    return base


def _vm_hwm_mib():
    """Peak resident set of this process in MiB (``VmHWM``; unlike ``ru_maxrss`` it resets at exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _step_fn(model, which, mode, x, y, device):
    if mode == "train":
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x).reshape(-1, 3), y.reshape(-1))
            loss.backward()
            opt.step()
    else:
        model.eval()
        bf16 = which == "ours_bf16"

        def step():  # same context for both models
            with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                model(x)

    return step


def _inputs(batch, device):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 10242, 16, generator=g).to(device)
    y = torch.randint(0, 3, (batch, 10242), generator=g).to(device)
    return x, y


def timings(mode, batch, reps, warmup, device_name, which=("baseline", "ours")):
    """Median / min seconds per step of each model, steps interleaved (fair under load).

    Also returns, per model, the median over repetitions of ``t_baseline / t_model``
    (the speed-up as a median of paired ratios) under the key ``(model, "ratio")``.
    """
    device = torch.device(device_name)
    x, y = _inputs(batch, device)
    models = {w: build(w, device) for w in which}
    steps = {w: _step_fn(m, w, mode, x, y, device) for w, m in models.items()}
    times = {w: [] for w in steps}
    for i in range(warmup + reps):
        for w, step in steps.items():
            _sync(device)
            t = time.perf_counter()
            step()
            _sync(device)
            if i >= warmup:
                times[w].append(time.perf_counter() - t)
    out = {w: (statistics.median(t), min(t)) for w, t in times.items()}
    for w, t in times.items():
        out[(w, "ratio")] = statistics.median(
            b / o for b, o in zip(times["baseline"], t, strict=True)
        )
    return out


def peak_memory(which, mode, batch, device_name, threads, queue):
    """Peak memory (MiB) of one configuration, in a fresh process: max RSS (CPU) or CUDA peak."""
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    model = build(which, device)
    x, y = _inputs(batch, device)
    step = _step_fn(model, which, mode, x, y, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step()
    step()
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else _vm_hwm_mib()
    queue.put((peak, sum(p.numel() for p in model.parameters())))


def run_memory(which, mode, args, device):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=peak_memory, args=(which, mode, args.batch, device, args.threads, q))
    p.start()
    res = q.get()
    p.join()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="B=2, 2 repetitions (smoke test)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument(
        "--no-memory", action="store_true", help="skip the per-configuration peak-memory runs"
    )
    ap.add_argument(
        "--device",
        choices=("cpu", "cuda", "both"),
        default=None,
        help="default: cpu [+ cuda if available]",
    )
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()
    if args.quick:
        args.batch, args.reps = 2, 2
    if args.device is None:
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = ["cpu", "cuda"] if args.device == "both" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        ap.error("--device cuda: torch sees no CUDA device")
    torch.set_num_threads(args.threads)
    rows = []
    for device in devices:
        for mode in ("train", "infer"):
            reps = args.reps if device == "cpu" else 20
            which = ("baseline", "ours") if mode == "train" else ("baseline", "ours", "ours_bf16")
            t = timings(mode, args.batch, reps, args.warmup, device, which)
            for w in which:
                peak, params = (
                    run_memory(w, mode, args, device) if not args.no_memory else (float("nan"), 0)
                )
                rows.append(
                    dict(
                        which=w,
                        mode=mode,
                        device=device,
                        median_s=t[w][0],
                        min_s=t[w][1],
                        samples_per_s=args.batch / t[w][0],
                        peak_mib=peak,
                        params=params
                        or sum(p.numel() for p in build(w, torch.device("cpu")).parameters()),
                        speedup=t[(w, "ratio")],
                    )
                )
    print(
        f"DeepSphere AR/TC U-Net, icosahedral level 5 (V=10242), B={args.batch}, C_in=16, K=3, "
        f"threads={args.threads}, params={rows[0]['params']:,}"
    )
    print(
        "speedup: median over interleaved repetitions of t_baseline / t_model; ours_bf16: "
        "torch.autocast(bfloat16) inference"
    )
    print(
        f"{'device':6} {'mode':5} {'model':9} {'median s':>9} {'min s':>8} {'samples/s':>10} "
        f"{'peak MiB':>9} {'speedup':>8}"
    )
    for r in rows:
        print(
            f"{r['device']:6} {r['mode']:5} {r['which']:9} {r['median_s']:9.4f} {r['min_s']:8.4f} "
            f"{r['samples_per_s']:10.2f} {r['peak_mib']:9.0f} {r['speedup']:7.2f}x"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()

"""Benchmark PAA's GMM split: batched torch EM vs the per-GT scikit-learn loop.

For each size (G GTs x K candidates) it reports the agreement (GTs whose positives equal
scikit-learn's exactly), the time of each backend and the speed-up. Loss rows are PAA-like:
a low-loss and a high-loss group of random sizes, random scale, random padding.

Usage:
    python benchmarks/bench_paa_split.py                      # CPU (and GPU if available)
    python benchmarks/bench_paa_split.py --sizes 100x45 1000x45 --repeats 5 --out table.md

Times are medians of ``--repeats`` runs after a warm-up; on a shared machine they vary with
the load. torch runs on 1 CPU thread by default (``--threads``): the many small EM kernels gain
little from a second thread and lose a lot when the cores are busy with other jobs. The
scikit-learn loop is timed once, on at most ``--sklearn-rows`` GTs; for larger G its time is
extrapolated linearly from that subsample (marked "est." in the table).
"""
from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import time

import torch

from paa_edu.assigners.gmm import gmm_split, paa_like_scores


def time_it(fn, repeats: int, sync=lambda: None) -> float:
    """Median wall time in seconds over ``repeats`` runs, after one warm-up run."""
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_size(G: int, K: int, args) -> list[dict]:
    losses, valid = paa_like_scores(G, K, seed=G)
    n_sk = min(G, args.sklearn_rows)
    gmm_split(losses[:2], valid[:2], args.reg_covar, backend="sklearn")  # warm-up (imports)
    t0 = time.perf_counter()
    ref = gmm_split(losses[:n_sk], valid[:n_sk], args.reg_covar, backend="sklearn")
    t_sklearn = (time.perf_counter() - t0) * G / n_sk
    rows = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.cpu_only else [])
    for dev in devices:
        x, v = losses.to(dev), valid.to(dev)
        sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
        t_torch = time_it(lambda: gmm_split(x, v, args.reg_covar), args.repeats, sync)
        pos = gmm_split(x, v, args.reg_covar).cpu()
        agree = (pos[:n_sk] == ref).all(1).float().mean().item()
        rows.append(dict(size=f"{G} x {K}", device=dev, agree=agree, n_sk=n_sk,
                         t_torch=t_torch, t_sklearn=t_sklearn, est=n_sk < G))
    return rows


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    text = f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    if torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name()}"
    return text


def markdown(rows: list[dict]) -> str:
    lines = [
        f"Command: `python {' '.join(sys.argv)}`  ",
        f"Machine: {machine()}  ",
        f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        "| G x K | device | agreement with sklearn | batched torch | sklearn loop | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        sk = f"{r['t_sklearn'] * 1e3:.0f} ms"
        sk += f" (est. from {r['n_sk']} GTs)" if r["est"] else ""
        lines.append(f"| {r['size']} | {r['device']} | {100 * r['agree']:.2f} % "
                     f"({r['n_sk']} GTs) | {r['t_torch'] * 1e3:.1f} ms | {sk} | "
                     f"{r['t_sklearn'] / r['t_torch']:.0f}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["100x45", "1000x45", "5000x45"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sklearn-rows", type=int, default=1000)
    parser.add_argument("--reg-covar", type=float, default=1e-6)
    parser.add_argument("--cpu-only", action="store_true")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1, like the single-threaded sklearn "
                             "loop; 0 = torch's default)")
    parser.add_argument("--out", help="also write the markdown table to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for size in args.sizes:
        G, K = (int(s) for s in size.lower().split("x"))
        rows += bench_size(G, K, args)
    table = markdown(rows)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()

"""What the label caches' key costs: (size, mtime) against
:func:`paa_edu.data.label_cache.stat_key` (size, mtime, ctime, inode) on a folder of many small
label files.

Both keys come from one ``stat`` per file, so the difference is the building of a longer tuple.

    python benchmarks/bench_cache_key.py --files 21000 --dir /tmp/cache_key_bench
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from paa_edu.data.label_cache import stat_key


def write_files(folder: Path, count: int) -> Path:
    """``count`` one-object label files in ``folder/labelTxt`` (kept when already there)."""
    labels = folder / "labelTxt"
    labels.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = labels / f"P{i:05d}.txt"
        if not path.exists():
            path.write_text("10 10 40 10 40 30 10 30 plane 0\n")
    return labels


def scan(labels: Path, key) -> dict:
    """The label cache's folder fingerprint with ``key(stat)`` per file."""
    with os.scandir(labels) as entries:
        return {e.name: key(e.stat()) for e in entries if e.name.endswith(".txt")}


def per_file(paths: list[Path], key) -> list:
    """check-data's per-pair fingerprint: one ``Path.stat`` per file."""
    return [key(p.stat()) for p in paths]


def median_ms(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=21000)
    parser.add_argument("--dir", default="/tmp/cache_key_bench")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    labels = write_files(Path(args.dir), args.files)
    paths = sorted(labels.iterdir())

    def old(stat):
        return stat.st_size, stat.st_mtime_ns

    cases = {"folder scan (label cache)": lambda key: scan(labels, key),
             "per-file stat (check-data)": lambda key: per_file(paths, key)}
    for name, run in cases.items():
        before = median_ms(lambda: run(old), args.repeats)
        after = median_ms(lambda: run(stat_key), args.repeats)
        print(f"{name}, {len(paths)} files: (size, mtime) {before:.0f} ms, "
              f"(size, mtime, ctime, inode) {after:.0f} ms (median of {args.repeats})")

if __name__ == "__main__":
    main()

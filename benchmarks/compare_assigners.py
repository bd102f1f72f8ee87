"""Does PAA >= ATSS >= MaxIoU hold? Train the four assigners over several seeds and compare.

The same detector trained with the MaxIoU and ATSS baselines, PAA(MaxIoU init) and PAA(ATSS
init), several training seeds, mean +- std of AP50 / AP75 / mAP, and whether PAA >= ATSS >=
MaxIoU holds in every seed. (The seed's own table has only the two PAA rows; its ATSS
repository reports rotated ATSS alone above both.) ``--paa-fallback none best all`` trains each
PAA variant once per fallback mode (``model.paa_fallback``) instead of the preset's.

    # CPU, tiny preset (about 100 s per run on 2 cores): 3 seeds x 4 assigners
    python benchmarks/compare_assigners.py --seeds 0 1 2 --out work_dirs/compare_tiny
    # GPU, R50 at 1024 px on the full synthetic set (the issue's GPU comparison)
    python benchmarks/compare_assigners.py --config full_synthetic --seeds 0 1 2 \\
        --out work_dirs/compare_full --set train.epochs=12
    # CPU: what PAA(ATSS init) gives a GT the split leaves without positives
    python benchmarks/compare_assigners.py --variants paa_atss --paa-fallback none best all \\
        --seeds 0 1 2 --out work_dirs/compare_fallback

Every run writes ``<out>/<variant>_s<seed>/metrics.json``; a run whose file exists is not
trained again, and a run with a checkpoint but no metrics resumes from it. So the seeds can be
split over several processes (``--seeds 1`` in one, ``--seeds 2`` in another) and the table is
printed from whatever runs exist with ``--report-only``. The dataset is always the same
(synthetic seed 0); only the training seed (initial weights, data order, flips) changes.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from paa_edu.assigners.paa import PAA_FALLBACKS
from paa_edu.config import VARIANTS, apply_overrides
from paa_edu.evaluation.report import METRIC_KEYS, format_results_table, method_name, table_row
from paa_edu.presets import get_config

#: the seed's ordering, best first: PAA (either init) >= ATSS >= MaxIoU.
ORDER = ("paa", "atss", "maxiou")


def run_key(name: str, fallback: str | None) -> str:
    """``paa_atss`` or, with an explicit fallback mode, ``paa_atss-fb_none``."""
    return name if fallback is None else f"{name}-fb_{fallback}"


def _sort_key(key: str) -> tuple[int, int]:
    """Table order: VARIANTS order, then PAA_FALLBACKS order."""
    name, _, fallback = key.partition("-fb_")
    names = [v[0] for v in VARIANTS]
    return names.index(name), PAA_FALLBACKS.index(fallback) if fallback else -1


def run_one(base: list[str], config: str, name: str, seed: int, out: Path,
            fallback: str | None = None) -> dict:
    """Train and evaluate one (variant, seed[, fallback]); returns the ``metrics.json`` content."""
    from paa_edu.data.build import build_dataset
    from paa_edu.engine.inference import evaluate
    from paa_edu.engine.train import train
    key = run_key(name, fallback)
    run_dir = out / f"{key}_s{seed}"
    result_path = run_dir / "metrics.json"
    if result_path.is_file():
        return json.loads(result_path.read_text())
    _, assigner, init = next(v for v in VARIANTS if v[0] == name)
    cfg = apply_overrides(get_config(config), base + [
        f"model.assigner={assigner}", f"model.paa_init={init}", f"train.seed={seed}",
        f"train.out_dir={run_dir}"] + ([f"model.paa_fallback={fallback}"] if fallback else []))
    resume = (run_dir / "last.pth").is_file()
    print(f"[compare] {method_name(cfg)} seed {seed}{' (resuming)' if resume else ''}", flush=True)
    start = time.perf_counter()
    model = train(cfg, resume=resume, restart=not resume, progress=False)["model"]
    metrics = evaluate(model, build_dataset(cfg, "val", train=False),
                       num_workers=cfg.data.num_workers)
    paa = model.assigner if assigner == "paa" else None
    row = table_row(cfg, metrics)
    if fallback is not None:
        row["method"] += f", fallback {fallback}"
    result = {"variant": key, "seed": seed, "row": row,
              **{k: metrics[k] for k in METRIC_KEYS}, "seconds": time.perf_counter() - start,
              "resumed": resume,
              "paa_fallback_rate": paa.fallback_count / max(paa.num_gts_split, 1) if paa else None,
              "paa_fallback_count": paa.fallback_count if paa else None,
              "paa_gts_split": paa.num_gts_split if paa else None}
    result_path.write_text(json.dumps(result, indent=1))
    print(f"[compare] {method_name(cfg)} seed {seed}: AP50 {100 * metrics['AP50']:.2f} "
          f"mAP {100 * metrics['mAP']:.2f} ({result['seconds']:.0f} s)", flush=True)
    return result


def load_results(out: Path) -> list[dict]:
    """Every finished run under ``out``."""
    return [json.loads(p.read_text()) for p in sorted(out.glob("*_s*/metrics.json"))]


def summary_table(results: list[dict]) -> str:
    """Seed-style table with 'mean +- std (n seeds)' in the metric columns."""
    rows = []
    for name in sorted({r["variant"] for r in results}, key=_sort_key):
        runs = [r for r in results if r["variant"] == name]
        row = {**runs[0]["row"], **{key: [r[key] for r in runs] for key in METRIC_KEYS}}
        row["lr_schd"] += f", {len(runs)} seeds"
        rows.append(row)
    return format_results_table(rows)


def per_seed_lines(results: list[dict]) -> list[str]:
    """One line per seed: the metrics of each variant and whether the ordering holds."""
    lines = []
    for seed in sorted({r["seed"] for r in results}):
        runs = {r["variant"]: r for r in results if r["seed"] == seed}
        by_name = {n: runs[n] for n in sorted(runs, key=_sort_key)}  # table order
        cells = ", ".join(f"{n} {100 * r['AP50']:.2f}/{100 * r['AP75']:.2f}/{100 * r['mAP']:.2f}"
                          for n, r in by_name.items())
        verdicts = [f"{key}: {ordering_holds(by_name, key)}" for key in METRIC_KEYS]
        lines.append(f"- seed {seed} (AP50/AP75/mAP): {cells}; "
                     f"PAA >= ATSS >= MaxIoU holds? {', '.join(verdicts)}")
    return lines


def ordering_holds(by_name: dict, key: str) -> str:
    """'yes' / 'no' / 'n/a' for best-PAA >= ATSS >= MaxIoU on metric ``key``."""
    paa = [r[key] for n, r in by_name.items() if n.startswith("paa")]
    if not paa or "atss" not in by_name or "maxiou" not in by_name:
        return "n/a"
    holds = max(paa) >= by_name["atss"][key] >= by_name["maxiou"][key]
    return "yes" if holds else "no"


def fallback_line(results: list[dict]) -> str:
    """How often PAA's split left a GT without positives in training (mean over seeds)."""
    rates = {}
    for r in results:
        if r.get("paa_fallback_rate") is not None:
            rates.setdefault(r["variant"], []).append(100 * r["paa_fallback_rate"])
    if not rates:
        return ""
    cells = ", ".join(f"{name} {sum(rates[name]) / len(rates[name]):.2f} %"
                      for name in sorted(rates, key=_sort_key))
    return ("\n\nPAA fallback (share of split GTs left without a positive, whose positives the "
            f"fallback mode then decides; mean over seeds): {cells}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="tiny_synthetic")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=[v[0] for v in VARIANTS],
                        choices=[v[0] for v in VARIANTS])
    parser.add_argument("--paa-fallback", nargs="+", choices=PAA_FALLBACKS,
                        help="train each PAA variant once per mode (default: the preset's)")
    parser.add_argument("--out", type=Path, default=Path("work_dirs/compare"))
    parser.add_argument("--data-root", help="default: <out>/data")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="extra config overrides, key=value")
    parser.add_argument("--report-only", action="store_true",
                        help="print the table of the finished runs; train nothing")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    base = [f"data.root={args.data_root or args.out / 'data'}", *args.overrides]
    if not args.report_only:
        for seed in args.seeds:
            for name in args.variants:
                modes = args.paa_fallback if name.startswith("paa") and args.paa_fallback \
                    else [None]
                for mode in modes:
                    run_one(base, args.config, name, seed, args.out, mode)
    results = load_results(args.out)
    if not results:
        raise SystemExit(f"no finished runs under {args.out}")
    text = "\n".join([summary_table(results), "", *per_seed_lines(results)])
    text += fallback_line(results)
    (args.out / "summary.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

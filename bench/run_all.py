"""Run the footalign benchmarks (``make bench``) and regenerate ``docs/benchmarks.md``.

Stages (all by default, in this order): ``accuracy`` (shipped model on the held-out synthetic test
set), ``peer`` (landmarker trained and evaluated on the same data, in ``.venv-bench``), ``speed``
(per-stage predict time, simulate time, training throughput), ``batch`` (scans/hour of a batch
predict), ``memory`` (peak memory and time vs volume size up to 640³) and ``report``
(``docs/benchmarks.md``).

Examples::

    python bench/run_all.py                       # everything (long: simulates, trains landmarker)
    python bench/run_all.py --only speed          # one stage
    python bench/run_all.py --only accuracy,report
    python bench/run_all.py --skip peer
    python bench/run_all.py --quick               # tiny inputs, to check the scripts work

Results: ``bench/results/<stage>.json`` (each with machine, versions, date and git commit).
A stage that fails writes ``status: not measured`` with the reason, unless an earlier
successful result exists, which is then kept and the failure is logged in ``run_all.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_VENV, REPO, WORK, read_result, write_result

STAGES = ("accuracy", "peer", "speed", "batch", "memory", "report")


def run_peer(args: argparse.Namespace) -> dict:
    python = BENCH_VENV / "bin" / "python"
    name = "landmarker_quick" if args.quick else "landmarker"
    if not python.is_file():
        return {"status": "not measured",
                "reason": f"benchmark environment {BENCH_VENV.name} missing (see bench/README.md to create it)"}
    check = subprocess.run([str(python), "-c", "import landmarker, footalign"], capture_output=True, text=True)
    if check.returncode != 0:
        return {"status": "not measured", "reason": "landmarker is not importable in .venv-bench: "
                + (check.stderr.strip().splitlines() or ["?"])[-1]}
    train = args.peer_train or find_training_set()
    if train is None:
        return {"status": "not measured", "reason": "footalign's training set was not found (pass --peer-train DATASET)"}
    # Training is the heavy part and shares the machine: nice it; inference timing runs un-niced.
    nice = 0 if args.peer_skip_train else args.peer_nice
    cmd = ["nice", "-n", str(nice), str(python), str(REPO / "bench" / "bench_landmarker.py"),
           "--train", str(train), "--budget-cpu-min", str(0.5 if args.quick else args.peer_budget_cpu_min),
           "--max-wall-min", str(2 if args.quick else args.peer_max_wall_min), "--name", name,
           "--test-root", str(WORK / ("testset_quick" if args.quick else "testset"))]
    if args.quick:
        cmd += ["--max-train-cases", "2"]
    if args.model:
        cmd += ["--footalign-model", args.model]
    import bench_speed

    record = bench_speed.training_throughput(None, model_dir=args.footalign_training or args.model)
    if "total_training_wall_s" in record:  # CPU budget of footalign's model ≈ wall time × its threads
        cpu_min = record["total_training_wall_s"] * float(record.get("threads") or 1) / 60
        cmd += ["--footalign-train-cpu-min", f"{cpu_min:.1f}"]
    if args.peer_skip_train:
        cmd += ["--skip-train"]
    predictions = WORK / ("accuracy_quick" if args.quick else "accuracy") / "predictions"
    if predictions.is_dir():
        cmd += ["--footalign-predictions", str(predictions)]
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        return {"status": "not measured", "reason": f"landmarker benchmark exited with code {proc.returncode}"}
    return read_result(name) or {"status": "not measured", "reason": "no result written"}


def find_training_set() -> Path | None:
    """footalign's training data set: the newest work_data/**/dataset.json that is not a bench set."""
    candidates = [p.parent for p in (REPO / "work_data").glob("**/dataset.json")
                  if "bench" not in p.parts and ".venv" not in str(p)]
    return max(candidates, key=lambda p: (p / "dataset.json").stat().st_mtime) if candidates else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="footalign benchmarks", formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("Examples::")[1].split("Results:")[0])
    parser.add_argument("--only", default="", help=f"comma-separated stages out of {', '.join(STAGES)}")
    parser.add_argument("--skip", default="", help="comma-separated stages to leave out")
    parser.add_argument("--quick", action="store_true", help="tiny inputs: checks the scripts, numbers are meaningless")
    parser.add_argument("--model", default=None, help="footalign model folder (default: the shipped model)")
    parser.add_argument("--peer-train", type=Path, default=None, help="training data set for landmarker")
    parser.add_argument("--footalign-training", default=None,
                        help="folder with footalign's training/metrics.csv (default: the model folder)")
    parser.add_argument("--peer-budget-cpu-min", type=float, default=25.0)
    parser.add_argument("--peer-max-wall-min", type=float, default=50.0)
    parser.add_argument("--peer-nice", type=int, default=15)
    parser.add_argument("--peer-skip-train", action="store_true", help="reuse the last trained landmarker model")
    args = parser.parse_args(argv)
    only = [s for s in args.only.split(",") if s] or list(STAGES)
    unknown = set(only) | {s for s in args.skip.split(",") if s}
    unknown -= set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    stages = [s for s in STAGES if s in only and s not in args.skip.split(",")]

    log = []
    for stage in stages:
        print(f"== {stage} ==", flush=True)
        t = time.perf_counter()
        try:
            if stage == "accuracy":
                import bench_accuracy
                bench_accuracy.run(quick=args.quick, model_dir=args.model)
            elif stage == "peer":
                result = run_peer(args)
                if result.get("status") == "not measured":
                    raise RuntimeError(result["reason"])
            elif stage == "speed":
                import bench_speed
                bench_speed.run(quick=args.quick, model_dir=args.model, train_dataset=args.peer_train or find_training_set(),
                                training_dir=args.footalign_training)
            elif stage == "batch":
                import bench_memory
                bench_memory.run_batch(quick=args.quick, model_dir=args.model)
            elif stage == "memory":
                import bench_memory
                bench_memory.run(quick=args.quick, model_dir=args.model)
            elif stage == "report":
                import make_report
                make_report.main(quick=args.quick)
            log.append({"stage": stage, "status": "ok", "seconds": round(time.perf_counter() - t, 1)})
        except Exception as exc:  # a benchmark stage failing must not stop the others
            reason = f"{type(exc).__name__}: {exc}"
            print(f"!! {stage} not measured: {reason}", flush=True)
            traceback.print_exc(limit=3)
            log.append({"stage": stage, "status": "failed", "reason": reason, "seconds": round(time.perf_counter() - t, 1)})
            name = {"peer": "landmarker"}.get(stage, stage) + ("_quick" if args.quick else "")
            previous = read_result(name)
            if stage != "report" and (previous is None or previous.get("status") == "not measured"):
                write_result(name, {"status": "not measured", "reason": reason})
    write_result("run_all_quick" if args.quick else "run_all", {"stages": log})
    failed = [e["stage"] for e in log if e["status"] != "ok"]
    print("done" + (f"; not measured: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

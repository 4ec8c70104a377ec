"""Speed of ``footalign predict`` per stage, of ``simulate`` per case, and of training.

Scans: one simulated single-foot and one bilateral scan at each voxel size 0.4, 0.6, 0.8 and
1.0 mm (seeds 9101–9108, not part of the test set). Each is predicted through the product code
path (``footalign.cli.predict.run_single``, the function behind ``footalign predict``) with the
model loaded once, ``REPEATS`` times after one warm-up run; the median per stage is reported.
The cold command (a fresh ``footalign predict`` process: imports, model load, everything) is
timed once per scan as well.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import WORK, print_table, read_result, set_threads, write_result
from sim_data import SimRecipe, dataset_cases, footalign_command, simulate

SPACINGS_MM = (0.4, 0.6, 0.8, 1.0)
REPEATS = 2
STAGES = ("read", "preprocess", "stage1", "stage2", "measurements", "outputs_report", "other")
TARGET_SECONDS_PER_FOOT_08MM = 10.0
# Issue 4: one 0.8 mm single-foot case on one core. Seed 9110 is reserved for this timing.
TARGET_SIMULATE_SECONDS_08MM = 15.0
SIMULATE_TIMING = SimRecipe(n=4, seed=9110, spacing=0.8, bilateral_fraction=0.0, workers=1)


def speed_scans(*, quick: bool = False) -> list[dict[str, Any]]:
    """Simulate (or reuse) the speed scans; returns dicts with image path, spacing, layout, sim record."""
    configs = [(1.0, "single")] if quick else [(s, k) for s in SPACINGS_MM for k in ("single", "bilateral")]
    scans = []
    for i, (spacing, kind) in enumerate(configs):
        recipe = SimRecipe(n=1, seed=9101 + i, spacing=spacing, bilateral_fraction=1.0 if kind == "bilateral" else 0.0)
        folder = WORK / "speed" / f"{kind}_{spacing:g}mm"
        record = simulate(recipe, folder, nice=10)
        case = dataset_cases(folder)[0]
        scans.append({"name": f"{kind} {spacing:g} mm", "spacing_mm": spacing, "layout": kind,
                      "image": case["image_path"], "simulate": record})
    return scans


def time_simulate(recipe: SimRecipe = SIMULATE_TIMING) -> dict[str, Any]:
    """Time ``footalign simulate`` afresh (never a cached data set): seconds per case on one core.

    ``seconds_per_case`` is the simulator's own per-case time (``dataset.json`` generation
    stats: anatomy, posing, ground truth, image formation and writing the files); the process
    wall time, which adds start-up once, is reported next to it.
    """
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        out = Path(tmp) / "sim"
        cmd = footalign_command() + recipe.args(out)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=single_thread_env())
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            return {"status": "not measured", "reason": f"footalign simulate failed: {' '.join(tail)}"}
        stats = json.loads((out / "dataset.json").read_text())["generator"]
    per_case = float(stats["mean_seconds_per_case"])
    return {"seconds_per_case": per_case, "n": recipe.n, "workers": recipe.workers,
            "spacing_mm": recipe.spacing, "layout": "single", "process_wall_s": wall,
            "command": "footalign " + " ".join(recipe.args(Path("OUT"))),
            "target_s": TARGET_SIMULATE_SECONDS_08MM, "pass": bool(per_case <= TARGET_SIMULATE_SECONDS_08MM)}


def single_thread_env() -> dict[str, str]:
    """One core: no BLAS/OpenMP threads besides the one worker."""
    return dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")


def stage_times(result: Any) -> dict[str, float]:
    """Map ``run_single``'s timings onto the reported stages (seconds)."""
    t = dict(result.timings)
    stage1 = sum(float(f.landmarks.meta.get("timing", {}).get("stage1", 0.0)) for f in result.feet)
    stage2 = sum(float(f.landmarks.meta.get("timing", {}).get("stage2", 0.0)) for f in result.feet)
    out = {
        "read": float(t.get("read", 0.0)),
        "preprocess": sum(float(t.get(k, 0.0)) for k in ("analysis", "feet", "floor", "fov", "crop")),
        "stage1": stage1,
        "stage2": stage2,
        "measurements": float(t.get("measure_qc", 0.0)),
        # run_single records the report as "report" (older versions: "outputs_report").
        "outputs_report": float(t.get("outputs_report") or t.get("report") or 0.0),
    }
    total = float(t.get("total", sum(out.values()))) - float(t.get("load_model", 0.0))
    # Writing JSON/CSV/markups, model overhead around the two networks, bookkeeping.
    out["other"] = max(0.0, total - sum(out.values()))
    out["total"] = total
    return out


def time_predict(scans: list[dict[str, Any]], *, repeats: int, model_dir: str | None,
                 precision: str = "auto") -> list[dict[str, Any]]:
    from footalign.cli.predict import run_single
    from footalign.model.predictor import Predictor

    predictor = Predictor.from_folder(model_dir, precision=precision)
    rows = []
    for scan in scans:
        runs = []
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            for k in range(repeats + 1):  # the first run warms caches and is not counted
                result = run_single(Path(scan["image"]), Path(tmp) / f"run{k}", model=None, series=None,
                                    device="cpu", keep_ids=False, report=True, quiet=True, side=None,
                                    predictor=predictor)
                if k:
                    runs.append(stage_times(result))
        n_feet = len(result.feet)
        median = {s: statistics.median(r[s] for r in runs) for s in (*STAGES, "total")}
        rows.append({"scan": scan["name"], "spacing_mm": scan["spacing_mm"], "layout": scan["layout"],
                     "precision": predictor.precision, "n_feet": n_feet, "shape": list(result.image.shape), "median_s": median,
                     "per_foot_s": median["total"] / n_feet, "runs": runs})
        print(f"  {scan['name']}: {median['total']:.2f} s ({n_feet} foot/feet)", flush=True)
    return rows


def time_cold_cli(scans: list[dict[str, Any]], *, model_dir: str | None) -> dict[str, float]:
    """Wall time of a fresh ``footalign predict SCAN --output DIR --quiet`` process per scan."""
    out = {}
    for scan in scans:
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            cmd = [*footalign_command(), "predict", str(scan["image"]), "--output", str(Path(tmp) / "out"), "--quiet"]
            if model_dir:
                cmd += ["--model", model_dir]
            t = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            out[scan["name"]] = time.perf_counter() - t if proc.returncode == 0 else float("nan")
    return out


def training_throughput(train_dataset: Path | None = None, *, model_dir: str | None = None) -> dict[str, Any]:
    """Training speed of footalign's model from its bundle's ``training/metrics.csv`` (seconds per epoch).

    Cases per second assume one pass over every case of ``train_dataset`` per epoch (true for
    ``footalign train --fold all``); the training record does not store the case count itself.
    """
    import csv

    from footalign.model.bundle import shipped_model_dir

    folder = Path(model_dir) if model_dir else shipped_model_dir()
    metrics = folder / "training" / "metrics.csv"
    if not metrics.is_file():
        return {"status": "not measured", "reason": f"no training/metrics.csv in the model folder {folder.name}"}
    with open(metrics, newline="") as fh:
        rows = list(csv.DictReader(fh))
    seconds = [float(r["seconds"]) for r in rows if r.get("seconds")]
    if not seconds:
        return {"status": "not measured", "reason": "training/metrics.csv has no per-epoch seconds"}
    out: dict[str, Any] = {"source": f"{folder.name}/training/metrics.csv", "epochs": len(seconds),
                           "median_epoch_s": statistics.median(seconds), "total_training_wall_s": sum(seconds)}
    config = folder / "config.json"
    version = ""
    if config.is_file():
        doc = json.loads(config.read_text())
        out["threads"] = doc.get("train", {}).get("threads")
        version = str(doc.get("model_version", ""))
    if train_dataset and (train_dataset / "dataset.json").is_file():
        doc = json.loads((train_dataset / "dataset.json").read_text())
        cases = doc["cases"]
        # A fold's model ("fold-K-epoch-N") trained on that fold's training cases only.
        fold = re.search(r"fold-(\d+)-epoch", version)
        split = next((f for f in doc.get("folds", []) if fold and int(f["fold"]) == int(fold.group(1))), None)
        if split is not None:
            cases = [c for c in cases if c["id"] in set(split["train"])]
        n_cases = len(cases)
        n_feet = sum(len(c.get("feet", [])) for c in cases)
        out |= {"train_dataset": train_dataset.name, "n_cases": n_cases, "n_feet": n_feet,
                "cases_per_s": n_cases / out["median_epoch_s"], "feet_per_s": n_feet / out["median_epoch_s"],
                "assumption": "one pass over the training cases per epoch"
                              + (f" (fold {fold.group(1)}'s training split)" if split is not None else "")}
    return out


def _find_keys(doc: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in keys and isinstance(v, int | float):
                found[k] = v
            elif isinstance(v, dict | list):
                found.update(_find_keys(v, keys))
    elif isinstance(doc, list):
        for v in doc:
            found.update(_find_keys(v, keys))
    return found


def run(*, quick: bool = False, model_dir: str | None = None, train_dataset: Path | None = None,
        training_dir: str | None = None) -> dict[str, Any]:
    """``training_dir``: the training output with ``training/metrics.csv`` (default: ``model_dir``)."""
    threads = set_threads()
    scans = speed_scans(quick=quick)
    rows = time_predict(scans, repeats=1 if quick else REPEATS, model_dir=model_dir)
    # One fresh process per layout at 0.8 mm (imports and model load dominate and do not depend on size).
    cold = time_cold_cli([s for s in scans if s["spacing_mm"] == 0.8] or scans[:1], model_dir=model_dir)
    for row in rows:
        row["cold_cli_s"] = cold.get(row["scan"])
    # The same 0.8 mm single-foot scan in float32: what a CPU without native bfloat16 gets.
    float32_rows = time_predict([s for s in scans if s["spacing_mm"] == 0.8 and s["layout"] == "single"][:1],
                                repeats=1 if quick else REPEATS, model_dir=model_dir, precision="float32")
    simulate_08 = time_simulate(replace(SIMULATE_TIMING, n=1) if quick else SIMULATE_TIMING)
    sim = {}
    accuracy_sets = WORK / "testset"
    for stamp in sorted(accuracy_sets.glob("*/bench_recipe.json")):
        rec = json.loads(stamp.read_text())
        sim[f"{rec['recipe']['spacing']:g} mm"] = {"seconds_per_case": rec["seconds_per_case"], "n": rec["recipe"]["n"],
                                                   "workers": rec["recipe"]["workers"], "command": rec["command"]}
    # The target is a fresh `footalign predict` process (read, model load, both stages,
    # measurements, every output incl. the report): what a user waits for.
    target_rows = [r for r in rows if r["spacing_mm"] == 0.8 and r["layout"] == "single"]
    per_foot_08 = (target_rows[0]["cold_cli_s"] or float("nan")) if target_rows else float("nan")
    warm_08 = target_rows[0]["per_foot_s"] if target_rows else float("nan")
    data = {
        "quick": quick, "torch_threads": threads, "repeats": 1 if quick else REPEATS,
        "predict": rows,
        "predict_float32": float32_rows,
        "simulate_seconds_per_case": sim or {"status": "not measured", "reason": "test set not simulated yet"},
        "simulate_note": "wall time of `footalign simulate` (1 worker, nice 10) divided by the number of cases",
        "simulate_single_0.8mm": simulate_08,
        "training": training_throughput(train_dataset, model_dir=training_dir or model_dir),
        "targets": {"predict_per_foot_0.8mm_s": per_foot_08, "measured_as": "cold CLI process, one foot, 0.8 mm",
                    "warm_per_foot_0.8mm_s": warm_08, "target_s": TARGET_SECONDS_PER_FOOT_08MM,
                    "pass": bool(per_foot_08 <= TARGET_SECONDS_PER_FOOT_08MM)},
    }
    accuracy = read_result("accuracy")
    if accuracy:
        data["accuracy_run_predict_seconds_per_scan"] = accuracy.get("predict_seconds_per_scan")
    write_result("speed_quick" if quick else "speed", data)
    print_table("footalign predict, median seconds per stage (model loaded once)",
                ["scan", "feet", *STAGES, "total", "per foot", "cold CLI"],
                [[r["scan"], r["n_feet"], *[r["median_s"][s] for s in STAGES], r["median_s"]["total"],
                  r["per_foot_s"], r.get("cold_cli_s")] for r in rows])
    if "seconds_per_case" in simulate_08:
        print(f"footalign simulate, one 0.8 mm single-foot case on one core: {simulate_08['seconds_per_case']:.1f} s "
              f"(mean of {simulate_08['n']}; target {TARGET_SIMULATE_SECONDS_08MM:g} s)")
    if not quick:
        shutil.rmtree(WORK / "speed_tmp", ignore_errors=True)
    return data

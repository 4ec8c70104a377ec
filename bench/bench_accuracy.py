"""Accuracy of footalign's shipped model on the fixed, seeded, held-out synthetic test set.

Test set: ``footalign simulate`` with seeds 9001–9004 (one seed per voxel size 0.4, 0.6, 0.8,
1.0 mm, 6 scans each, equal pathology weights, a third bilateral), plus seed 9005 (0.8 mm) only
if chance left a pathology out, so all six pathologies and both sides are present. These seeds are reserved for this
benchmark: no model may be trained or selected on them.

Each scan goes through the product path (``read_image`` → ``predict_scan`` with the shipped
``Predictor``); predictions are saved as ``landmarks.json`` per case and evaluated against the
simulated ground truth with ``footalign.evaluation`` (the same code as ``footalign evaluate``).
"""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from common import DOCS_IMG, TEST_SET_SEED, WORK, print_table, set_threads, write_result
from footalign.anatomy import LANDMARK_INDEX, PUBLISHED_ANGLE_MAE_DEG, PUBLISHED_LANDMARK_MAE_MM
from footalign.pipeline.tibia_sections import SECTION_HEIGHTS_MM
from sim_data import SimRecipe, dataset_cases, simulate

MEASURED_IN_IMAGE = (*SECTION_HEIGHTS_MM, "CALC_LOW")  # re-measured by predict_scan from the network's points

TEST_SPACINGS_MM = (0.4, 0.6, 0.8, 1.0)
CASES_PER_SPACING = 6
BILATERAL_FRACTION = 0.34
PATHOLOGIES = ("normal", "cavus", "planovalgus", "hallux_valgus", "hindfoot_varus", "hindfoot_valgus")
EQUAL_MIX = ",".join(f"{p}=1" for p in PATHOLOGIES)
TOP_UP_SEED = TEST_SET_SEED + len(TEST_SPACINGS_MM)  # 9005: only if a pathology is missing


def test_set_recipes(*, quick: bool = False) -> list[tuple[str, SimRecipe]]:
    """(folder name, recipe) of each part of the held-out test set."""
    if quick:
        return [("quick_1.0mm", SimRecipe(n=2, seed=TEST_SET_SEED, spacing=1.0, bilateral_fraction=0.5))]
    return [(f"seed{TEST_SET_SEED + i}_{s:g}mm",
             SimRecipe(n=CASES_PER_SPACING, seed=TEST_SET_SEED + i, spacing=s, bilateral_fraction=BILATERAL_FRACTION,
                       pathology_mix=EQUAL_MIX))
            for i, s in enumerate(TEST_SPACINGS_MM)]


def make_test_set(*, quick: bool = False) -> tuple[list[dict], list[dict]]:
    """Simulate (or reuse) the test set; returns (cases with 'part' and 'spacing', simulate records)."""
    root = WORK / ("testset_quick" if quick else "testset")
    cases, records = [], []
    recipes = test_set_recipes(quick=quick)
    if not quick:  # every pathology must be in the test set: top up the ones chance left out
        seen = set()
        for name, recipe in recipes:
            simulate(recipe, root / name, nice=10)
            seen |= {ft.get("pathology") for c in dataset_cases(root / name) for ft in c.get("feet", [])}
        missing = [p for p in PATHOLOGIES if p not in seen]
        if missing:
            recipes.append((f"seed{TOP_UP_SEED}_0.8mm", SimRecipe(
                n=2 * len(missing), seed=TOP_UP_SEED, spacing=0.8, bilateral_fraction=BILATERAL_FRACTION,
                pathology_mix=",".join(f"{p}=1" for p in missing))))
        elif (root / f"seed{TOP_UP_SEED}_0.8mm").exists():
            shutil.rmtree(root / f"seed{TOP_UP_SEED}_0.8mm")
    for name, recipe in recipes:
        record = simulate(recipe, root / name, nice=10)
        records.append(record | {"part": name})
        for case in dataset_cases(root / name):
            case["case_key"] = f"{name}/{case['id']}"
            case["part"] = name
            case["spacing_mm"] = recipe.spacing
            cases.append(case)
    return cases, records


def predict_test_set(cases: list[dict], out_dir: Path, *, model_dir: str | None = None) -> dict[str, Any]:
    """Run the shipped model over every test scan; write ``<out>/<case_key>/landmarks.json``.

    Returns per-case timing (seconds) and the model's description.
    """
    from rich.progress import track

    from footalign.errors import FootalignError
    from footalign.io.images import read_image
    from footalign.io.landmarks import write_landmarks_json
    from footalign.model.predictor import Predictor
    from footalign.pipeline.predict import predict_scan

    predictor = Predictor.from_folder(model_dir)
    timings, failures = {}, {}
    for case in track(cases, description="footalign predict (test set)"):
        t = time.perf_counter()
        image = read_image(case["image_path"])
        try:
            result = predict_scan(image, predictor, source=case["case_key"])
        except FootalignError as exc:  # no prediction file: all its landmarks count as missing
            failures[case["case_key"]] = str(exc)
            continue
        seconds = time.perf_counter() - t
        timings[case["case_key"]] = {"seconds": seconds, "n_feet": len(result.feet), **result.timings}
        write_landmarks_json(out_dir / case["case_key"] / "landmarks.json", [f.landmarks for f in result.feet],
                             extra={"timings": result.timings})
    return {"timings": timings, "failures": failures, "model": {"source": predictor.source,
                                          "version": predictor.config.get("model_version", "dev")}}


def run(*, quick: bool = False, model_dir: str | None = None) -> dict[str, Any]:
    """Simulate the test set, predict, evaluate; write ``bench/results/accuracy.json``."""
    from footalign.evaluation import evaluate_landmarks, write_evaluation_report
    from footalign.evaluation.matching import LandmarkSet, pair_feet
    from footalign.io.landmarks import read_landmarks

    threads = set_threads()
    cases, sim_records = make_test_set(quick=quick)
    work = WORK / ("accuracy_quick" if quick else "accuracy")
    pred_dir = work / "predictions"
    if pred_dir.exists():
        shutil.rmtree(pred_dir)
    prediction = predict_test_set(cases, pred_dir, model_dir=model_dir)

    gt = LandmarkSet({c["case_key"]: read_landmarks(c["landmarks_path"]) for c in cases},
                     {c["case_key"]: [c["landmarks_path"]] for c in cases})
    # Read the saved files back (not the in-memory feet) so the files themselves are what is scored.
    pred_files = {c["case_key"]: pred_dir / c["case_key"] / "landmarks.json" for c in cases}
    pred = LandmarkSet({k: read_landmarks(f) for k, f in pred_files.items() if f.is_file()},
                       {k: [f] for k, f in pred_files.items()})
    pairing = pair_feet(pred, gt)
    evaluation = evaluate_landmarks(pairing.pred, pairing.gt, case_ids=pairing.case_ids)
    evaluation.notes.extend(pairing.notes)
    paths = write_evaluation_report(evaluation, work / "evaluation",
                                    title="footalign on the held-out synthetic test set")
    if not quick:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(paths["boxplot"], DOCS_IMG / "bench_accuracy_landmarks.png")
        shutil.copyfile(paths["bland_altman"], DOCS_IMG / "bench_accuracy_bland_altman.png")

    # Ablation: the same predictions with the network's own TIB_DIST / TIB_PROX / CALC_LOW
    # (before the pipeline re-measured them in the image).
    network_pairing = pair_feet(_with_network_points(pred), gt)
    network_eval = evaluate_landmarks(network_pairing.pred, network_pairing.gt, case_ids=network_pairing.case_ids)
    in_image_ablation = {
        "note": "TIB_DIST/TIB_PROX/CALC_LOW as the network placed them vs as re-measured in the image (the default)",
        "network": {**{n: network_eval.landmarks[n].mean for n in MEASURED_IN_IMAGE},
                    "hindfoot_angle_mae": network_eval.measurements["hindfoot_angle"].mae},
        "measured": {**{n: evaluation.landmarks[n].mean for n in MEASURED_IN_IMAGE},
                     "hindfoot_angle_mae": evaluation.measurements["hindfoot_angle"].mae},
    }
    breakdown = _breakdown(evaluation, cases)
    overall = evaluation.overall()
    landmark_means = {k: s.mean for k, s in evaluation.landmarks.items()}
    best_published = min(PUBLISHED_LANDMARK_MAE_MM.values())
    targets = {
        "every_landmark_mean_below_1mm": bool(all(np.isfinite(v) and v < best_published for v in landmark_means.values())),
        "landmarks_below_1mm": int(sum(np.isfinite(v) and v < best_published for v in landmark_means.values())),
        "angle_mae_below_published": {
            name: {"mae": evaluation.measurements[name].mae, "published": pub,
                   "pass": bool(evaluation.measurements[name].mae < pub)}
            for name, pub in PUBLISHED_ANGLE_MAE_DEG.items()},
        "every_angle_mae_below_0.91deg": bool(all(m.mae < min(PUBLISHED_ANGLE_MAE_DEG.values())
                                                for m in evaluation.measurements.values() if m.unit == "deg")),
    }
    seconds = [t["seconds"] for t in prediction["timings"].values()]
    data = {
        "quick": quick,
        "torch_threads": threads,
        "test_set": {"seed": TEST_SET_SEED, "parts": sim_records, "n_cases": len(cases),
                     "n_feet": evaluation.n_feet,
                     "note": "seeds 9001-9005 are reserved for this test set; never used for training"},
        "model": prediction["model"],
        "overall": overall,
        "landmarks": evaluation.as_dict()["landmarks"],
        "measurements": evaluation.as_dict()["measurements"],
        "breakdown": breakdown,
        "measured_in_image_ablation": in_image_ablation,
        "targets": targets,
        "predict_failures": prediction["failures"],
        "predict_seconds_per_scan": {"median": float(np.median(seconds)) if seconds else None,
                                     "max": float(np.max(seconds)) if seconds else None},
        "evaluation_report": paths["markdown"],
        "notes": evaluation.notes,
    }
    write_result("accuracy_quick" if quick else "accuracy", data)
    rows = [[name, s.n, s.mean, s.median, s.p95, f"{100 * s.sdr[2.0]:.0f} %"]
            for name, s in evaluation.landmarks.items()]
    print_table("footalign landmark error on the test set (mm)", ["landmark", "n", "mean", "median", "p95", "SDR 2 mm"], rows)
    print_table("footalign measurement agreement", ["measurement", "MAE", "bias", "ICC(2,1)", "published MAE"],
                [[m.name, m.mae, m.bias, m.icc, m.published_mae] for m in evaluation.measurements.values()])
    return data


def _with_network_points(pred):
    """``pred`` with each foot's TIB_DIST / TIB_PROX / CALC_LOW put back to the network's own points."""
    from footalign.evaluation.matching import LandmarkSet

    cases = {}
    for key, feet in pred.cases.items():
        cases[key] = []
        for foot in feet:
            points = foot.points.copy()
            meta = foot.meta or {}
            network = dict(meta.get("tibia_sections", {}).get("network_points_mm", {}))
            if "network_point_mm" in meta.get("calc_low", {}):
                network["CALC_LOW"] = meta["calc_low"]["network_point_mm"]
            for name, p in network.items():
                if np.isfinite(points[LANDMARK_INDEX[name]]).all():  # not cut off afterwards
                    points[LANDMARK_INDEX[name]] = p
            cases[key].append(replace(foot, points=points))
    return LandmarkSet(cases, pred.sources)


def _breakdown(evaluation, cases: list[dict]) -> dict[str, Any]:
    """Mean landmark error by voxel size, by pathology and by side."""
    by_case = {c["case_key"]: c for c in cases}
    groups: dict[str, dict[str, list[float]]] = {"spacing_mm": defaultdict(list), "pathology": defaultdict(list),
                                                 "side": defaultdict(list), "scan": defaultdict(list)}
    for f, (case_key, side) in enumerate(zip(evaluation.case_ids, evaluation.sides, strict=True)):
        case = by_case.get(case_key, {})
        errors = evaluation.errors_mm[f][np.isfinite(evaluation.errors_mm[f])].tolist()
        pathology = next((ft.get("pathology", "?") for ft in case.get("feet", []) if ft.get("side") == side), "?")
        groups["spacing_mm"][f"{case.get('spacing_mm', '?')}"] += errors
        groups["pathology"][pathology] += errors
        groups["side"][side] += errors
        groups["scan"]["bilateral" if len(case.get("feet", [])) == 2 else "single"] += errors
    return {g: {k: {"mean_error_mm": float(np.mean(v)) if v else None, "n_landmarks": len(v)}
                for k, v in sorted(d.items())} for g, d in groups.items()}

"""5-fold cross-validation: train one model per ``dataset.json`` fold, evaluate all held-out feet."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from footalign.anatomy import PUBLISHED_LANDMARK_MAE_MM
from footalign.errors import InputError
from footalign.evaluation import evaluate_landmarks, folds_markdown
from footalign.io.atomic import ensure_writable_dir, write_text_atomic
from footalign.io.landmarks import foot_from_dict, write_landmarks_json
from footalign.landmarks import FootLandmarks
from footalign.model.assess import evaluate_predictions, predict_cases
from footalign.model.bundle import CHECKSUMS_FILE, sha256_of
from footalign.model.dataset import Dataset, read_dataset
from footalign.model.predictor import Predictor
from footalign.model.preprocess import case_feet
from footalign.model.train import train_model

# A landmark meets the target when its mean error is below the published method's best landmark.
TARGET_MM = min(PUBLISHED_LANDMARK_MAE_MM.values())
# A fold's predictions of its held-out feet, kept beside its model so that pooling the folds
# (--evaluate-only) does not predict them again.
HELDOUT_FILE = "heldout_predictions.json"


def _heldout_key(fold_dir: Path, dataset: Dataset, case_ids: list[str]) -> dict[str, Any]:
    """What the held-out predictions depend on: the bundle's checksums, the data set file, the cases."""
    checksums = json.loads((fold_dir / CHECKSUMS_FILE).read_text(encoding="utf-8"))
    return {"model_sha256": checksums.get("sha256"), "dataset_sha256": sha256_of(dataset.root / "dataset.json"),
            "cases": list(case_ids)}


def heldout_predictions(fold_dir: Path, dataset: Dataset, case_ids: list[str], *, quiet: bool = False
                        ) -> tuple[list[FootLandmarks], list[FootLandmarks], list[str]]:
    """Predictions, ground truths and case ids of a fold model's held-out feet (oracle crops).

    Read from ``fold_dir/heldout_predictions.json`` when it was written for the same model files,
    ``dataset.json`` and cases; otherwise predicted and written there.
    """
    cache = fold_dir / HELDOUT_FILE
    key = _heldout_key(fold_dir, dataset, case_ids)
    if cache.is_file():
        try:
            doc = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            doc = {}
        if doc.get("heldout_key") == key:
            preds = [foot_from_dict(f, cache, f"foot #{k + 1}") for k, f in enumerate(doc["feet"])]
            gts = [gt for case_id in case_ids for gt in case_feet(dataset.case(case_id))]
            if len(gts) == len(preds):
                return preds, gts, list(doc["case_ids"])
    preds, gts, ids = predict_cases(Predictor.from_folder(fold_dir), dataset, case_ids, quiet=quiet)
    write_landmarks_json(cache, preds, extra={"heldout_key": key, "case_ids": ids})
    return preds, gts, ids


def fold_summary(fold: int, preds: list[FootLandmarks], gts: list[FootLandmarks], ids: list[str]) -> dict[str, Any]:
    """One fold's row of the cross-validation table: pooled errors, worst landmark and angle."""
    evaluation = evaluate_landmarks(preds, gts, case_ids=ids)
    overall = evaluation.overall()
    per_landmark = {n: s.mean for n, s in evaluation.landmarks.items() if np.isfinite(s.mean)}
    angles = {n: s.mae for n, s in evaluation.measurements.items() if s.unit == "deg" and np.isfinite(s.mae)}
    worst = max(per_landmark, key=lambda n: per_landmark[n])
    worst_angle = max(angles, key=lambda n: angles[n]) if angles else None
    return {"fold": fold, "n_feet": int(overall["n_feet"]), "mean_mm": overall["mean_error_mm"],
            "median_mm": overall["median_error_mm"], "p95_mm": overall["p95_error_mm"],
            "sdr_2mm": overall["sdr_2mm"],
            "landmarks_below_target": sum(v < TARGET_MM for v in per_landmark.values()),
            "worst_landmark": worst, "worst_landmark_mm": per_landmark[worst],
            "worst_angle": worst_angle, "worst_angle_mae_deg": angles.get(worst_angle, float("nan"))}


def cross_validate(
    dataset_dir: str | Path,
    *,
    out_dir: str | Path,
    config: dict[str, Any],
    cache_dir: str | Path,
    epochs: int | None = None,
    folds: list[int] | None = None,
    resume: bool = True,
    train: bool = True,
    init_from: str | Path | None = None,
    max_minutes: float | None = None,
    plots: bool = True,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train ``out_dir/fold_K`` for every fold, predict its validation cases, evaluate them together.

    Parameters
    ----------
    train : False evaluates the models already in ``out_dir/fold_K`` (e.g. folds trained side by
        side, or on several machines, with ``folds=[K]``) without training. Held-out predictions a
        fold's run already made (``fold_K/heldout_predictions.json``) are reused.
    init_from, max_minutes : as for :func:`footalign.model.train.train_model`, per fold.

    The pooled evaluation of all held-out feet goes to ``out_dir/evaluation`` (footalign.evaluation
    report: per-landmark errors, SDR, measurement MAE, Bland-Altman, ICC), one row per fold to
    ``out_dir/evaluation/folds.csv`` and the summary's ``"folds"``.
    """
    console = Console(stderr=True, quiet=quiet)
    dataset = read_dataset(dataset_dir)
    if not dataset.folds:
        raise InputError(f"{dataset.root / 'dataset.json'}: no folds defined")
    known = [int(f["fold"]) for f in dataset.folds]
    chosen = folds if folds is not None else known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise InputError(f"fold(s) {unknown} not in {dataset.root / 'dataset.json'} (folds: {known})")
    out = ensure_writable_dir(out_dir)
    fold_dirs = {k: out / f"fold_{k}" for k in chosen}
    if not train:
        missing = [str(d) for d in fold_dirs.values() if not (d / "config.json").is_file()]
        if missing:
            raise InputError(f"no trained model to evaluate in {', '.join(missing)} (train the folds first)")
    preds, gts, ids, rows = [], [], [], []
    for k, fold_dir in fold_dirs.items():
        console.print(f"[bold]fold {k}[/bold]")
        if train:
            train_model(dataset_dir, fold=k, out_dir=fold_dir, config=copy.deepcopy(config), cache_dir=cache_dir,
                        epochs=epochs, resume=resume, quiet=quiet, max_minutes=max_minutes, init_from=init_from)
        _, val_ids = dataset.split(k)
        p, g, i = heldout_predictions(fold_dir, dataset, val_ids, quiet=quiet)
        rows.append(fold_summary(k, p, g, i))
        console.print(f"fold {k}: {rows[-1]['n_feet']} feet, mean error {rows[-1]['mean_mm']:.2f} mm, worst "
                      f"{rows[-1]['worst_landmark']} {rows[-1]['worst_landmark_mm']:.2f} mm")
        preds += p
        gts += g
        ids += i
    evaluation_dir = out / "evaluation"
    summary = evaluate_predictions(preds, gts, ids, evaluation_dir,
                                   title=f"{len(chosen)}-fold cross-validation ({dataset.root.name})", plots=plots)
    write_text_atomic(evaluation_dir / "folds.csv", pd.DataFrame(rows).to_csv(index=False, float_format="%.4f"))
    report = evaluation_dir / "evaluation.md"
    write_text_atomic(report, report.read_text() + "\n" + folds_markdown(rows) + "\n")
    summary["folds"] = rows
    write_text_atomic(evaluation_dir / "summary.json", json.dumps(summary, indent=2, default=float) + "\n")
    console.print(f"cross-validation: {summary['n_feet']} held-out feet, mean error "
                  f"{summary['overall']['mean_error_mm']:.2f} mm -> {evaluation_dir}")
    return summary

"""Predict every foot of a data set with a model and evaluate against its ground truth.

Used by ``footalign cv`` (held-out folds) and for the shipped model's held-out test set. Each
foot is given to the model as the pipeline would: a per-foot crop, here the ground-truth
landmark box plus a margin (an oracle crop; the pipeline's foot splitting is tested separately).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress

from footalign.evaluation import evaluate_landmarks, write_evaluation_report
from footalign.image import Image, covering
from footalign.io.atomic import ensure_writable_dir, write_text_atomic
from footalign.io.images import read_image
from footalign.io.landmarks import write_landmarks_json
from footalign.landmarks import FootLandmarks
from footalign.model.dataset import Dataset
from footalign.model.predictor import Predictor
from footalign.model.preprocess import case_feet


def crop_box(image: Image, lo: np.ndarray, hi: np.ndarray) -> Image:
    """The part of ``image`` covering the LPS box ``lo``..``hi`` (clipped to the volume)."""
    corners = np.array([[a, b, c] for a in (lo[0], hi[0]) for b in (lo[1], hi[1]) for c in (lo[2], hi[2])])
    part = covering(image, corners)
    return part.with_array(np.ascontiguousarray(part.array))


def foot_crop(image: Image, foot: FootLandmarks, *, margin_mm: float = 30.0) -> Image:
    """Oracle per-foot crop: the ground-truth landmark box plus ``margin_mm`` on every side."""
    finite = foot.points[np.all(np.isfinite(foot.points), axis=1)]
    return crop_box(image, finite.min(axis=0) - margin_mm, finite.max(axis=0) + margin_mm)


def oracle_feet(dataset: Dataset, case_ids: Iterable[str], *,
                margin_mm: float = 30.0) -> Iterator[tuple[str, Image, FootLandmarks]]:
    """(case id, oracle crop, ground truth) for every foot of ``case_ids``, one scan read at a time."""
    for case_id in case_ids:
        case = dataset.case(case_id)
        image = read_image(case.image)
        for gt in case_feet(case):
            yield case_id, foot_crop(image, gt, margin_mm=margin_mm), gt


def predict_cases(predictor: Predictor, dataset: Dataset, case_ids: list[str], *,
                  quiet: bool = False) -> tuple[list[FootLandmarks], list[FootLandmarks], list[str]]:
    """Predictions, ground truths and case ids (one entry per foot) of the given cases."""
    preds, gts, ids = [], [], []
    with Progress(disable=quiet, transient=True) as progress:
        task = progress.add_task("predict", total=len(case_ids))
        for case_id in case_ids:
            for _, crop, gt in oracle_feet(dataset, [case_id]):
                preds.append(predictor.predict_foot(crop, gt.side))
                gts.append(gt)
                ids.append(case_id)
            progress.advance(task)
    return preds, gts, ids


def write_predictions(out_dir: Path, preds: list[FootLandmarks], ids: list[str]) -> None:
    """One footalign landmark JSON per case under ``out_dir/predictions``."""
    folder = ensure_writable_dir(out_dir / "predictions")
    for case_id in dict.fromkeys(ids):
        feet = [p for p, c in zip(preds, ids, strict=True) if c == case_id]
        write_landmarks_json(folder / f"{case_id}.json", feet)


def evaluate_predictions(preds: list[FootLandmarks], gts: list[FootLandmarks], ids: list[str],
                         out_dir: str | Path, *, title: str, plots: bool = True) -> dict[str, Any]:
    """Evaluation report (footalign.evaluation) plus the predictions and a timing summary."""
    out = ensure_writable_dir(out_dir)
    write_predictions(out, preds, ids)
    evaluation = evaluate_landmarks(preds, gts, case_ids=ids)
    write_evaluation_report(evaluation, out, title=title, plots=plots)
    timing = np.array([[p.meta["timing"]["stage1"], p.meta["timing"]["stage2"]] for p in preds])
    summary = {
        "n_feet": len(preds),
        "landmark_mean_error_mm": {n: s.mean for n, s in evaluation.landmarks.items()},
        "measurement_mae": {n: s.mae for n, s in evaluation.measurements.items()},
        "overall": evaluation.overall(),
        "seconds_per_foot": {"stage1": float(timing[:, 0].mean()), "stage2": float(timing[:, 1].mean())},
    }
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2, default=float) + "\n")
    return summary

"""Evaluation of predicted landmarks against ground truth: errors, SDR, MAE, Bland–Altman, ICC.

>>> from footalign.evaluation import evaluate_landmarks, write_evaluation_report  # doctest: +SKIP
>>> ev = evaluate_landmarks(pred_feet, gt_feet, case_ids=ids)                     # doctest: +SKIP
>>> write_evaluation_report(ev, "eval_out")                                        # doctest: +SKIP
"""

from __future__ import annotations

from footalign.evaluation.metrics import (
    Evaluation,
    LandmarkStats,
    MeasurementStats,
    evaluate_landmarks,
    landmark_errors,
    measure_pair,
)
from footalign.evaluation.report import (
    evaluation_markdown,
    folds_markdown,
    markdown_table,
    write_evaluation_report,
)
from footalign.evaluation.stats import (
    BlandAltman,
    bland_altman,
    error_summary,
    icc_2_1,
    mean_absolute_error,
    success_detection_rate,
)

__all__ = [
    "BlandAltman",
    "Evaluation",
    "LandmarkStats",
    "MeasurementStats",
    "bland_altman",
    "error_summary",
    "evaluate_landmarks",
    "evaluation_markdown",
    "folds_markdown",
    "icc_2_1",
    "landmark_errors",
    "markdown_table",
    "mean_absolute_error",
    "measure_pair",
    "success_detection_rate",
    "write_evaluation_report",
]

"""Compare predicted landmarks with ground truth: per-landmark errors, per-measurement agreement.

``evaluate_landmarks`` takes paired feet (prediction ``i`` belongs with ground truth ``i``)
and returns an :class:`Evaluation` holding the raw per-foot numbers and their summaries.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from footalign.anatomy import (
    LANDMARK_NAMES,
    MEASUREMENT_BY_NAME,
    MEASUREMENT_NAMES,
    PUBLISHED_ANGLE_MAE_DEG,
    PUBLISHED_LANDMARK_MAE_MM,
    SDR_THRESHOLDS_MM,
)
from footalign.evaluation.stats import (
    bland_altman,
    error_summary,
    icc_2_1,
    mean_absolute_error,
    success_detection_rate,
    wrap_degrees,
)
from footalign.geometry.measurements import measure_foot
from footalign.io.jsonable import to_jsonable
from footalign.landmarks import FootLandmarks


@dataclass(frozen=True)
class LandmarkStats:
    """Error summary of one landmark over all evaluated feet (mm).

    ``n`` feet where both points exist; ``n_pred_missing`` feet where the truth exists but the
    prediction does not (counted as failures in the SDR); ``n_gt_missing`` feet without truth
    (left out entirely). ``sdr`` maps threshold (mm) to the success-detection rate.
    """

    name: str
    n: int
    n_pred_missing: int
    n_gt_missing: int
    mean: float
    median: float
    p95: float
    max: float
    sdr: dict[float, float]


@dataclass(frozen=True)
class MeasurementStats:
    """Agreement of one measurement between prediction and truth (in the measurement's unit)."""

    name: str
    unit: str
    n: int
    mae: float
    bias: float
    sd_diff: float
    loa_low: float
    loa_high: float
    icc: float
    published_mae: float | None = None


@dataclass
class Evaluation:
    """Everything ``evaluate_landmarks`` computed, per foot and summarised.

    Arrays are indexed ``[foot, landmark]`` in ``anatomy.LANDMARK_NAMES`` order or
    ``[foot, measurement]`` in ``anatomy.MEASUREMENT_NAMES`` order; NaN = not available.
    """

    case_ids: list[str]
    sides: list[str]
    errors_mm: np.ndarray
    pred_missing: np.ndarray
    gt_missing: np.ndarray
    measurements_pred: np.ndarray
    measurements_gt: np.ndarray
    floor_sources: list[str]
    landmarks: dict[str, LandmarkStats]
    measurements: dict[str, MeasurementStats]
    notes: list[str] = field(default_factory=list)

    @property
    def n_feet(self) -> int:
        return len(self.case_ids)

    def overall(self) -> dict[str, float]:
        """Pooled figures: mean/median/p95 error over all landmark pairs, SDRs, MAE ranges."""
        expected = ~self.gt_missing
        pooled = self.errors_mm[expected]
        summary = error_summary(pooled)
        per_landmark = np.array([s.mean for s in self.landmarks.values()])
        angle_maes = np.array([s.mae for s in self.measurements.values() if s.unit == "deg"])
        out: dict[str, float] = {
            "n_feet": float(self.n_feet),
            "n_cases": float(len(set(self.case_ids))),
            "mean_error_mm": summary["mean"],
            "median_error_mm": summary["median"],
            "p95_error_mm": summary["p95"],
            "max_error_mm": summary["max"],
            "n_pred_missing": float(self.pred_missing.sum()),
            "landmark_mean_error_min_mm": _nanmin(per_landmark),
            "landmark_mean_error_max_mm": _nanmax(per_landmark),
            "angle_mae_min_deg": _nanmin(angle_maes),
            "angle_mae_max_deg": _nanmax(angle_maes),
        }
        for t in SDR_THRESHOLDS_MM:
            out[f"sdr_{t:g}mm"] = success_detection_rate(pooled, t)
        return out

    def per_case_table(self) -> pd.DataFrame:
        """One row per foot: case, side, error summary, each landmark's error, each measurement.

        Measurement columns are ``<name>_pred``, ``<name>_gt`` and ``<name>_abs_error``.
        """
        rows: list[dict[str, Any]] = []
        for f in range(self.n_feet):
            expected = ~self.gt_missing[f]
            e = self.errors_mm[f]
            row: dict[str, Any] = {
                "case_id": self.case_ids[f],
                "side": self.sides[f],
                "mean_error_mm": error_summary(e[expected])["mean"],
                "max_error_mm": error_summary(e[expected])["max"],
                "n_pred_missing": int(self.pred_missing[f].sum()),
                "n_gt_missing": int(self.gt_missing[f].sum()),
                "floor_source": self.floor_sources[f],
            }
            row.update({f"{name}_error_mm": e[i] for i, name in enumerate(LANDMARK_NAMES)})
            for j, name in enumerate(MEASUREMENT_NAMES):
                p, g = self.measurements_pred[f, j], self.measurements_gt[f, j]
                diff = p - g
                if MEASUREMENT_BY_NAME[name].unit == "deg":
                    diff = float(wrap_degrees(diff))
                row[f"{name}_pred"] = p
                row[f"{name}_gt"] = g
                row[f"{name}_abs_error"] = abs(diff)
            rows.append(row)
        return pd.DataFrame(rows)

    def landmark_table(self) -> pd.DataFrame:
        """One row per landmark: n, missing counts, mean/median/p95/max error, SDRs."""
        rows = []
        for s in self.landmarks.values():
            row = {k: v for k, v in dataclasses.asdict(s).items() if k != "sdr"}
            row.update({f"sdr_{t:g}mm": v for t, v in s.sdr.items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def measurement_table(self) -> pd.DataFrame:
        """One row per measurement: n, MAE, Bland–Altman bias and limits, ICC(2,1), published MAE."""
        return pd.DataFrame([dataclasses.asdict(s) for s in self.measurements.values()])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (NaN → None) with the per-foot raw numbers."""
        return to_jsonable({
            "schema": "footalign.evaluation",
            "version": 1,
            "overall": self.overall(),
            "landmarks": {k: dataclasses.asdict(v) | {"sdr": {f"{t:g}": r for t, r in v.sdr.items()}}
                          for k, v in self.landmarks.items()},
            "measurements": {k: dataclasses.asdict(v) for k, v in self.measurements.items()},
            "published": {"landmark_mae_mm": dict(PUBLISHED_LANDMARK_MAE_MM),
                          "angle_mae_deg": dict(PUBLISHED_ANGLE_MAE_DEG)},
            "sdr_thresholds_mm": list(SDR_THRESHOLDS_MM),
            "feet": [{"case_id": c, "side": s, "floor_source": fs}
                     for c, s, fs in zip(self.case_ids, self.sides, self.floor_sources, strict=True)],
            "errors_mm": self.errors_mm.tolist(),
            "notes": list(self.notes),
        })


def landmark_errors(pred: FootLandmarks, gt: FootLandmarks) -> np.ndarray:
    """Euclidean distance (mm) per landmark between two feet; NaN where either point is missing."""
    return np.linalg.norm(pred.points - gt.points, axis=1)


def measure_pair(pred: FootLandmarks, gt: FootLandmarks) -> tuple[np.ndarray, np.ndarray, str]:
    """The 14 measurements of prediction and truth, both measured against the same floor.

    The truth's floor (e.g. the platform of a simulated scan) is used for both when it has one.
    Otherwise both are measured on their own tripod plane, so a floor the prediction detected
    itself does not make the comparison uneven. Returns (pred values, gt values, floor source).
    """
    floor = gt.floor
    pred_for_measure = pred if floor is not None else dataclasses.replace(pred, floor=None)
    m_gt = measure_foot(gt, floor)
    m_pred = measure_foot(pred_for_measure, floor)
    as_array = [np.array([m.values[n] for n in MEASUREMENT_NAMES], dtype=float) for m in (m_pred, m_gt)]
    return as_array[0], as_array[1], m_gt.floor_source


def evaluate_landmarks(pred: list[FootLandmarks], gt: list[FootLandmarks], *, case_ids: list[str]) -> Evaluation:
    """Evaluate predicted landmarks against ground truth, foot by foot.

    Parameters
    ----------
    pred, gt : paired feet: ``pred[i]`` is the prediction for ground truth ``gt[i]`` (same
        side). A prediction may have NaN rows (missing landmarks); use an all-NaN foot for a
        foot that was not predicted at all.
    case_ids : the case (scan) id of each foot; a bilateral scan appears twice.

    Returns
    -------
    Evaluation
        Per landmark: mean/median/p95/max Euclidean error (mm) over feet where both points
        exist, SDR at ``anatomy.SDR_THRESHOLDS_MM`` (missing predictions count as failures)
        and missing counts. Per measurement (``measure_foot`` on both, same floor): MAE,
        Bland–Altman bias and 95 % limits, ICC(2,1). Angle differences wrap to ±180°.

    Raises
    ------
    ValueError
        If the lists differ in length, are empty, or a pair's sides differ.
    """
    if not (len(pred) == len(gt) == len(case_ids)):
        raise ValueError(f"pred, gt and case_ids must have the same length, got {len(pred)}, {len(gt)}, {len(case_ids)}")
    if not gt:
        raise ValueError("nothing to evaluate: no feet given")
    for p, g, cid in zip(pred, gt, case_ids, strict=True):
        if p.side != g.side:
            raise ValueError(f"case {cid}: predicted side {p.side!r} does not match ground truth side {g.side!r}")

    n = len(gt)
    errors = np.stack([landmark_errors(p, g) for p, g in zip(pred, gt, strict=True)])
    gt_missing = np.stack([~np.all(np.isfinite(g.points), axis=1) for g in gt])
    pred_missing = np.stack([~np.all(np.isfinite(p.points), axis=1) for p in pred]) & ~gt_missing
    m_pred = np.full((n, len(MEASUREMENT_NAMES)), np.nan)
    m_gt = np.full_like(m_pred, np.nan)
    floor_sources: list[str] = []
    for f, (p, g) in enumerate(zip(pred, gt, strict=True)):
        m_pred[f], m_gt[f], source = measure_pair(p, g)
        floor_sources.append(source)

    landmark_stats = {
        name: _landmark_stats(name, errors[:, i], pred_missing[:, i], gt_missing[:, i])
        for i, name in enumerate(LANDMARK_NAMES)
    }
    measurement_stats = {
        name: _measurement_stats(name, m_pred[:, j], m_gt[:, j]) for j, name in enumerate(MEASUREMENT_NAMES)
    }
    notes = []
    if n < 2:
        notes.append("only one foot: standard deviations, limits of agreement and ICC are undefined")
    return Evaluation(list(case_ids), [g.side for g in gt], errors, pred_missing, gt_missing, m_pred, m_gt,
                      floor_sources, landmark_stats, measurement_stats, notes)


def _landmark_stats(name: str, errors: np.ndarray, pred_missing: np.ndarray, gt_missing: np.ndarray) -> LandmarkStats:
    expected = errors[~gt_missing]  # NaN here = prediction missing: an SDR failure
    s = error_summary(expected)
    sdr = {t: success_detection_rate(expected, t) for t in SDR_THRESHOLDS_MM}
    return LandmarkStats(name, int(np.count_nonzero(np.isfinite(expected))), int(pred_missing.sum()),
                         int(gt_missing.sum()), s["mean"], s["median"], s["p95"], s["max"], sdr)


def _measurement_stats(name: str, pred: np.ndarray, gt: np.ndarray) -> MeasurementStats:
    spec = MEASUREMENT_BY_NAME[name]
    angular = spec.unit == "deg"
    ba = bland_altman(pred, gt, angular=angular)
    return MeasurementStats(
        name=name, unit=spec.unit, n=ba.n, mae=mean_absolute_error(pred, gt, angular=angular),
        bias=ba.bias, sd_diff=ba.sd, loa_low=ba.loa_low, loa_high=ba.loa_high,
        icc=icc_2_1(np.column_stack([gt, pred])), published_mae=PUBLISHED_ANGLE_MAE_DEG.get(name),
    )


def _nanmin(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.min()) if a.size else float("nan")


def _nanmax(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else float("nan")


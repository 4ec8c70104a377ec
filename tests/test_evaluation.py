"""Evaluation metrics on constructed prediction/truth sets whose answers are known analytically."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from footalign.anatomy import LANDMARK_NAMES, MEASUREMENT_NAMES, SDR_THRESHOLDS_MM
from footalign.evaluation import (
    bland_altman,
    evaluate_landmarks,
    icc_2_1,
    mean_absolute_error,
    success_detection_rate,
    write_evaluation_report,
)
from footalign.landmarks import FloorPlane, FootLandmarks

# A plausible right foot in the foot frame (x anterior, y medial, z up; mm, heel at the origin).
_FOOT_FRAME_MM = {
    "TIB_PROX": (52, 2, 140), "TIB_DIST": (50, 0, 100), "TAL_DOME": (50, 0, 78),
    "TAL_HEAD": (95, 8, 58), "TAL_HEAD_MED": (95, 22, 58), "TAL_HEAD_LAT": (95, -6, 58),
    "CALC_LOW": (8, -4, 3), "CALC_TUB": (-2, -2, 38), "CALC_PFA": (45, -2, 62),
    "CALC_ANT": (88, -12, 52), "CALC_CC": (82, -16, 30), "NAV_LOW": (112, 16, 20),
    "NAV_MED": (108, 30, 40), "NAV_LAT": (110, 0, 44), "CUN1_LOW": (135, 22, 18),
    "M1_BASE": (150, 24, 30), "M1_HEAD": (205, 30, 18), "M2_BASE": (150, 6, 36),
    "M2_HEAD": (210, 4, 18), "M5_HEAD": (185, -35, 12), "P1_BASE": (220, 30, 16),
    "P1_HEAD": (245, 24, 14),
}
_FLOOR = FloorPlane(point=np.zeros(3), normal=np.array([0.0, 0.0, 1.0]), source="platform")


def _to_lps(local: np.ndarray, side: str) -> np.ndarray:
    """Foot frame → LPS for an unrotated foot: anterior = −y, up = +z, medial = +x (right) / −x (left)."""
    medial_x = 1.0 if side == "right" else -1.0
    return np.column_stack([medial_x * local[:, 1], -local[:, 0], local[:, 2]])


def _make_feet(n: int, *, seed: int = 0) -> tuple[list[FootLandmarks], list[str]]:
    """``n`` ground-truth feet (alternating sides) with per-foot anatomical variation, on a platform."""
    rng = np.random.default_rng(seed)
    base = np.array([_FOOT_FRAME_MM[name] for name in LANDMARK_NAMES], dtype=float)
    feet, ids = [], []
    for i in range(n):
        side = ("right", "left")[i % 2]
        local = base * rng.uniform(0.9, 1.1) + rng.normal(0, 3.0, base.shape)
        local[:, 2] = np.maximum(local[:, 2], 1.0)
        feet.append(FootLandmarks(side=side, points=_to_lps(local, side), floor=_FLOOR))
        ids.append(f"case_{i // 2:03d}")
    return feet, ids


def _shifted(feet: list[FootLandmarks], shift: np.ndarray) -> list[FootLandmarks]:
    return [FootLandmarks(side=f.side, points=f.points + shift) for f in feet]


def _rotated_about_vertical(feet: list[FootLandmarks], degrees: float, *, centre: str = "CALC_LOW",
                            names: tuple[str, ...] = LANDMARK_NAMES) -> list[FootLandmarks]:
    """Rotate landmarks ``names`` of each foot about the vertical (floor normal) axis through ``centre``."""
    t = np.radians(degrees)
    rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    out = []
    for f in feet:
        pts = f.points.copy()
        idx = [LANDMARK_NAMES.index(n) for n in names]
        c = f[centre]
        pts[idx] = (pts[idx] - c) @ rot.T + c
        out.append(FootLandmarks(side=f.side, points=pts))
    return out


def test_icc_matches_shrout_fleiss_textbook_example():
    # Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges; ICC(2,1) = 0.29.
    ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    assert icc_2_1(ratings) == pytest.approx(0.2898, abs=5e-4)


def test_icc_is_one_for_identical_raters_and_penalises_a_constant_offset():
    truth = np.array([10.0, 14.0, 20.0, 25.0, 31.0])
    assert icc_2_1(np.column_stack([truth, truth])) == pytest.approx(1.0)
    # Absolute agreement: a constant offset lowers ICC(2,1) (consistency ICC would stay 1).
    offset = icc_2_1(np.column_stack([truth, truth + 5.0]))
    assert 0.5 < offset < 0.95
    # Rows with NaN are dropped, too few rows gives NaN.
    assert np.isnan(icc_2_1(np.array([[1.0, 1.0], [np.nan, 2.0]])))


def test_bland_altman_mae_and_sdr_on_hand_computed_values():
    reference = np.array([10.0, 20.0, 30.0, np.nan])
    test = np.array([11.0, 22.0, 33.0, 5.0])
    ba = bland_altman(test, reference)
    assert ba.n == 3
    assert ba.bias == pytest.approx(2.0)
    assert ba.sd == pytest.approx(1.0)
    assert (ba.loa_low, ba.loa_high) == pytest.approx((2.0 - 1.96, 2.0 + 1.96))
    assert mean_absolute_error(test, reference) == pytest.approx(2.0)
    # Angles wrap: 179° vs −179° differ by 2°, not 358°.
    assert mean_absolute_error(np.array([179.0]), np.array([-179.0]), angular=True) == pytest.approx(2.0)
    errors = np.array([1.0, 2.0, 2.5, 5.0, np.nan])
    assert success_detection_rate(errors, 2.0) == pytest.approx(2 / 5)  # NaN (missing) = failure
    assert success_detection_rate(errors, 2.5) == pytest.approx(3 / 5)


def test_translation_3_4_0_gives_5mm_everywhere_and_no_angle_error():
    gt, ids = _make_feet(8)
    pred = _shifted(gt, np.array([3.0, 4.0, 0.0]))
    ev = evaluate_landmarks(pred, gt, case_ids=ids)
    assert np.allclose(ev.errors_mm, 5.0)
    for s in ev.landmarks.values():
        assert s.n == 8 and s.n_pred_missing == 0
        assert s.mean == pytest.approx(5.0) and s.median == pytest.approx(5.0) and s.p95 == pytest.approx(5.0)
        assert s.sdr[4.0] == 0.0 and s.sdr[2.0] == 0.0
    # Horizontal translation, same floor: every measurement (angles and heights) is unchanged.
    for m in ev.measurements.values():
        assert m.n == 8
        assert m.mae == pytest.approx(0.0, abs=1e-9)
        assert m.bias == pytest.approx(0.0, abs=1e-9)
        assert m.icc == pytest.approx(1.0, abs=1e-9)
    # A vertical shift moves the heights by exactly that amount against the truth's platform.
    ev_up = evaluate_landmarks(_shifted(gt, np.array([0.0, 0.0, 1.5])), gt, case_ids=ids)
    assert ev_up.measurements["navicular_height"].bias == pytest.approx(1.5)
    assert ev_up.measurements["cuneiform_height"].mae == pytest.approx(1.5)
    assert ev_up.measurements["hindfoot_angle"].mae == pytest.approx(0.0, abs=1e-9)
    assert ev_up.landmarks["TAL_DOME"].sdr[2.0] == 1.0


def test_rotation_about_the_floor_normal_moves_points_but_not_angles():
    gt, ids = _make_feet(6, seed=1)
    pred = _rotated_about_vertical(gt, 4.0)
    ev = evaluate_landmarks(pred, gt, case_ids=ids)
    # Chord length of a 4° rotation: 2 r sin(2°), r = horizontal distance from CALC_LOW.
    for f, foot in enumerate(gt):
        r = np.linalg.norm((foot.points - foot["CALC_LOW"])[:, :2], axis=1)
        assert np.allclose(ev.errors_mm[f], 2 * r * np.sin(np.radians(2.0)))
    for name in MEASUREMENT_NAMES:
        assert ev.measurements[name].mae == pytest.approx(0.0, abs=1e-6), name


def test_hallux_rotated_laterally_by_5_degrees_gives_hva_bias_plus_5():
    gt, ids = _make_feet(6, seed=2)
    # Seen from above (+z), a positive rotation turns an anterior (−y LPS) axis towards +x, which is
    # medial on a right foot and lateral on a left foot. Rotating P1 about its base by 5° towards
    # lateral increases the hallux valgus angle ("+ lateral deviation of P1") by exactly 5°.
    pred = [_rotated_about_vertical([f], -5.0 if f.side == "right" else 5.0, centre="P1_BASE",
                                    names=("P1_HEAD",))[0] for f in gt]
    ev = evaluate_landmarks(pred, gt, case_ids=ids)
    hva = ev.measurements["hallux_valgus_angle"]
    assert hva.mae == pytest.approx(5.0, abs=0.05)
    assert hva.bias == pytest.approx(5.0, abs=0.05)
    assert hva.sd_diff == pytest.approx(0.0, abs=0.05)
    assert hva.loa_high - hva.loa_low == pytest.approx(0.0, abs=0.2)
    # Only P1_HEAD moved: other landmarks have zero error, other measurements are unchanged.
    assert ev.landmarks["P1_HEAD"].mean > 1.0
    assert ev.landmarks["M1_HEAD"].mean == pytest.approx(0.0, abs=1e-9)
    assert ev.measurements["intermetatarsal_1_2"].mae == pytest.approx(0.0, abs=1e-9)


def test_missing_predictions_are_counted_and_fail_the_sdr():
    gt, ids = _make_feet(4, seed=3)
    pred = _shifted(gt, np.array([1.0, 0.0, 0.0]))
    pred[0].points[LANDMARK_NAMES.index("P1_HEAD")] = np.nan
    gt[1].points[LANDMARK_NAMES.index("TIB_PROX")] = np.nan  # truth outside the field of view
    ev = evaluate_landmarks(pred, gt, case_ids=ids)
    p1 = ev.landmarks["P1_HEAD"]
    assert (p1.n, p1.n_pred_missing, p1.n_gt_missing) == (3, 1, 0)
    assert p1.sdr[2.0] == pytest.approx(3 / 4)
    tib = ev.landmarks["TIB_PROX"]
    assert (tib.n, tib.n_pred_missing, tib.n_gt_missing) == (3, 0, 1)
    assert tib.sdr[2.0] == pytest.approx(1.0)
    assert ev.measurements["hallux_valgus_angle"].n == 3
    assert ev.measurements["hindfoot_angle"].n == 3
    assert ev.overall()["n_pred_missing"] == 1


def test_side_mismatch_and_length_mismatch_raise():
    gt, ids = _make_feet(2)
    with pytest.raises(ValueError, match="side"):
        evaluate_landmarks(gt[::-1], gt, case_ids=ids)
    with pytest.raises(ValueError, match="same length"):
        evaluate_landmarks(gt[:1], gt, case_ids=ids)


def test_report_files_are_complete_and_consistent(tmp_path):
    gt, ids = _make_feet(6, seed=4)
    pred = _shifted(gt, np.array([3.0, 4.0, 0.0]))
    ev = evaluate_landmarks(pred, gt, case_ids=ids)
    paths = write_evaluation_report(ev, tmp_path / "report")
    for key in ("json", "markdown", "csv", "boxplot", "bland_altman", "bland_altman/hindfoot_angle"):
        assert paths[key].is_file() and paths[key].stat().st_size > 0, key
    assert paths["boxplot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(paths["json"].read_text())
    assert data["landmarks"]["CALC_LOW"]["mean"] == pytest.approx(5.0)
    assert data["landmarks"]["CALC_LOW"]["sdr"]["4"] == 0.0
    assert data["measurements"]["bohler_angle"]["published_mae"] == pytest.approx(2.90)
    table = pd.read_csv(paths["csv"])
    assert len(table) == 6 and set(table["case_id"]) == set(ids)
    assert np.allclose(table["P1_HEAD_error_mm"], 5.0)
    md = paths["markdown"].read_text()
    assert "1.00–1.88" in md and "| CALC_LOW |" in md and "| bohler_angle |" in md
    assert all(f"SDR {t:g}" in md for t in SDR_THRESHOLDS_MM)
    assert not list((tmp_path / "report").rglob("*.tmp*"))

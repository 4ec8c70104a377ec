"""Landmarks checked against the foot's other landmarks (the shape prior of ``geometry.shape_model``).

A model trained on complete feet, shown a scan whose field of view cuts the forefoot off, still
puts the metatarsal heads somewhere inside the image, on whatever bone looks most alike. The
other landmarks tell where those heads must be: when that expected position lies outside the
field of view and the model's point is far from it, the landmark is reported ``outside_fov``
(not marked). A point far from its expected position inside the field of view gets a QC warning.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from footalign.anatomy import LANDMARK_INDEX, LANDMARK_NAMES, N_LANDMARKS
from footalign.geometry.shape_model import ShapeModel, expected_positions
from footalign.pipeline.qc import QCWarning

# A point counts as far from its expected position beyond max(MIN_MM, SPREADS x its spread):
# the spread is the leave-one-out error of the prior on simulated feet, which do not show the
# whole range of real anatomy, hence the generous margin.
FAR_MIN_MM = 15.0
FAR_SPREADS = 4.0
# Where the prior puts a landmark outside the field of view, the model's point inside it has
# the prior against it, so it is kept only within the tighter 2 spreads (on simulated feet a
# true landmark lies that close in ~99 % of cases). With 4 spreads the real scan's M5_HEAD, put
# on the fifth metatarsal shaft 31 mm from where its cut-off head is expected, stayed marked.
FAR_SPREADS_EXPECTED_OUTSIDE = 2.0
# Landmarks a deformity swings about a neighbour, which a similarity-fitted prior cannot follow:
# hallux valgus turns the proximal phalanx about its base by up to ~45 deg (the prior's mean foot
# has ~10 deg), moving P1_HEAD 15-20 mm from its expected position. For these, the distance to
# the prior is taken to the expected point turned about the hinge toward the model's point by up
# to the given angle, so only the phalanx length and a turn beyond it count.
HINGED: dict[str, tuple[str, float]] = {"P1_HEAD": ("P1_BASE", 40.0)}
# Landmarks whose definition follows the field of view ("or the most proximal complete section
# in the field of view") are never cut off by it, wherever the prior expects them.
FOLLOWS_FOV = frozenset({"TIB_PROX"})


def expected_leave_one_out(model: ShapeModel, points: np.ndarray, side: str, trusted: np.ndarray) -> np.ndarray:
    """Expected position of each landmark from the trusted *other* landmarks (22, 3) mm."""
    out = np.full((N_LANDMARKS, 3), np.nan)
    full = expected_positions(model, points, side, trusted=trusted)
    for k in range(N_LANDMARKS):
        if trusted[k]:
            others = trusted.copy()
            others[k] = False
            out[k] = expected_positions(model, points, side, trusted=others)[k]
        else:
            out[k] = full[k]
    return out


def distance_to_hinged(point: np.ndarray, expected: np.ndarray, hinge: np.ndarray, max_turn_deg: float) -> float:
    """Distance (mm) from ``point`` to ``expected`` turned about ``hinge`` toward ``point`` by at most
    ``max_turn_deg`` (the nearest position a joint turn of that size can explain)."""
    e, v = np.asarray(expected, float) - hinge, np.asarray(point, float) - hinge
    ne, nv = np.linalg.norm(e), np.linalg.norm(v)
    if ne == 0.0 or nv == 0.0:
        return float(np.linalg.norm(v - e))
    angle = np.arccos(np.clip(e @ v / (ne * nv), -1.0, 1.0))
    if angle <= np.radians(max_turn_deg):
        return float(abs(nv - ne))
    # Turn e toward v by the allowed angle, within the plane they span.
    ortho = v / nv - (e / ne) * np.cos(angle)
    ortho /= np.linalg.norm(ortho)
    turn = np.radians(max_turn_deg)
    turned = ne * (np.cos(turn) * e / ne + np.sin(turn) * ortho)
    return float(np.linalg.norm(v - turned))


def _distance_to_prior(k: int, points: np.ndarray, expected: np.ndarray, trusted: np.ndarray) -> float:
    """Distance of landmark ``k`` to its expected position (hinged landmarks: see :data:`HINGED`)."""
    name = LANDMARK_NAMES[k]
    if name in HINGED:
        hinge_name, max_turn = HINGED[name]
        h = LANDMARK_INDEX[hinge_name]
        if trusted[h] and np.all(np.isfinite(points[h])):  # not if the hinge itself was just cut off
            return distance_to_hinged(points[k], expected[k], points[h], max_turn)
    return float(np.linalg.norm(points[k] - expected[k]))


def check_against_shape(
    model: ShapeModel,
    points: np.ndarray,
    status: list[str],
    side: str,
    *,
    fov_of: Callable[[np.ndarray], list[str]],
) -> tuple[np.ndarray, list[str], list[QCWarning], np.ndarray]:
    """Re-examine one foot's landmarks (scan LPS mm) with the shape prior.

    Parameters
    ----------
    points, status : the foot's landmarks and their statuses (``"ok"``, ``"low_confidence"``,
        ``"fov_edge"``, ``"outside_fov"``; NaN points for the latter).
    fov_of : the field-of-view status of arbitrary points (as ``pipeline.predict.fov_status``).

    Returns
    -------
    points, status : updated (cut-off landmarks set to NaN / ``"outside_fov"``).
    warnings : QC warnings (cut-off landmarks recognised, implausible positions).
    expected : the expected positions (NaN where the prior could not be fitted).
    """
    points = np.array(points, dtype=float)
    status = list(status)
    trusted = np.array([s == "ok" for s in status]) & np.all(np.isfinite(points), axis=1)
    expected = expected_leave_one_out(model, points, side, trusted)
    if not np.any(np.isfinite(expected)):
        return points, status, [], expected
    expected_fov = fov_of(expected)
    cut_off = (np.asarray(expected_fov) == "outside_fov") & ~np.isin(LANDMARK_NAMES, list(FOLLOWS_FOV))
    spreads = np.where(cut_off, FAR_SPREADS_EXPECTED_OUTSIDE, FAR_SPREADS)
    limit = np.maximum(FAR_MIN_MM, spreads * model.spread_mm)
    cut, odd = [], []
    for k, name in enumerate(LANDMARK_NAMES):
        if status[k] == "outside_fov" or not np.all(np.isfinite(points[k])) or not np.all(np.isfinite(expected[k])):
            continue
        distance = _distance_to_prior(k, points, expected, trusted)
        if distance <= limit[k]:
            continue
        if cut_off[k]:
            points[k] = np.nan
            status[k] = "outside_fov"
            cut.append(f"{name} ({distance:.0f} mm)")
        else:
            odd.append(f"{name} ({distance:.0f} mm)")
    warnings = []
    if cut:
        warnings.append(QCWarning("outside_fov_by_shape", "warning",
                                  "expected outside the field of view from the other landmarks; the "
                                  "model's point lay on other bone and is not marked: " + ", ".join(cut)))
    if odd:
        warnings.append(QCWarning("implausible_position", "warning",
                                  "far from where the other landmarks place it (unusual anatomy or a "
                                  "wrong landmark), check: " + ", ".join(odd)))
    return points, status, warnings, expected

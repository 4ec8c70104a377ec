"""Quality-control checks on one foot's prediction: each returns plain-language warnings.

The distance bounds are generous anatomical ranges for adult feet (foot length ~210-300 mm):
a prediction outside them is almost certainly a wrong landmark, not an unusual foot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from footalign.landmarks import FootLandmarks

# (landmark a, landmark b): (min mm, max mm) of their 3D distance.
DISTANCE_BOUNDS_MM: dict[tuple[str, str], tuple[float, float]] = {
    ("TIB_DIST", "TAL_DOME"): (8.0, 45.0),
    ("TAL_DOME", "TAL_HEAD"): (20.0, 60.0),
    ("TAL_HEAD_MED", "TAL_HEAD_LAT"): (12.0, 50.0),
    ("NAV_MED", "NAV_LAT"): (12.0, 50.0),
    ("CALC_LOW", "CALC_TUB"): (12.0, 65.0),
    ("CALC_LOW", "CALC_CC"): (40.0, 100.0),
    ("CALC_TUB", "CALC_ANT"): (45.0, 110.0),
    ("TAL_HEAD", "NAV_LOW"): (8.0, 45.0),
    ("M1_BASE", "M1_HEAD"): (35.0, 85.0),
    ("M2_BASE", "M2_HEAD"): (45.0, 100.0),
    ("P1_BASE", "P1_HEAD"): (12.0, 45.0),
    ("M1_HEAD", "M5_HEAD"): (35.0, 110.0),
    ("CALC_LOW", "M2_HEAD"): (110.0, 240.0),
}
LOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class QCWarning:
    """One QC finding: a short code, a severity (``"info"``/``"warning"``) and a sentence."""

    code: str
    severity: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message}


def implausible_distances(foot: FootLandmarks) -> list[QCWarning]:
    """Pairs of landmarks whose distance is outside :data:`DISTANCE_BOUNDS_MM`."""
    out = []
    for (a, b), (lo, hi) in DISTANCE_BOUNDS_MM.items():
        if foot.has(a) and foot.has(b):
            d = float(np.linalg.norm(foot[a] - foot[b]))
            if not lo <= d <= hi:
                out.append(QCWarning("implausible_distance", "warning",
                                     f"{a}–{b} distance {d:.1f} mm is outside the anatomical range "
                                     f"{lo:.0f}–{hi:.0f} mm: check these landmarks"))
    return out


def confidence_warnings(foot: FootLandmarks, *, threshold: float = LOW_CONFIDENCE) -> list[QCWarning]:
    """Landmarks the model is unsure about, and landmarks outside the field of view."""
    from footalign.anatomy import LANDMARK_NAMES

    assert foot.confidence is not None and foot.status is not None
    out = []
    outside = [n for n, s in zip(LANDMARK_NAMES, foot.status, strict=True) if s == "outside_fov"]
    if outside:
        out.append(QCWarning("outside_fov", "warning",
                             f"{len(outside)} landmark(s) outside the field of view (not marked): "
                             + ", ".join(outside)))
    edge = [n for n, s in zip(LANDMARK_NAMES, foot.status, strict=True) if s == "fov_edge"]
    if edge:
        out.append(QCWarning("fov_edge", "warning",
                             "landmark(s) at the edge of the field of view (bone may be cut off): "
                             + ", ".join(edge)))
    low = [f"{n} ({c:.2f})" for n, c, s in zip(LANDMARK_NAMES, foot.confidence, foot.status, strict=True)
           if s not in ("outside_fov",) and np.isfinite(c) and c < threshold]
    if low:
        out.append(QCWarning("low_confidence", "warning",
                             f"low confidence (< {threshold:.2f}): " + ", ".join(low)))
    return out


def side_consistency(foot: FootLandmarks, canonical_points: np.ndarray) -> list[QCWarning]:
    """Do medial landmarks lie medial? In the canonical frame a right foot's medial side is +x.

    ``canonical_points`` are the foot's landmarks in its canonical frame (foot along -y).
    """
    from footalign.anatomy import LANDMARK_INDEX

    pairs = [("M1_HEAD", "M5_HEAD"), ("TAL_HEAD_MED", "TAL_HEAD_LAT"), ("NAV_MED", "NAV_LAT")]
    medial_sign = 1.0 if foot.side == "right" else -1.0
    votes = []
    for med, lat in pairs:
        a, b = canonical_points[LANDMARK_INDEX[med]], canonical_points[LANDMARK_INDEX[lat]]
        if np.all(np.isfinite(a)) and np.all(np.isfinite(b)):
            votes.append(medial_sign * (a[0] - b[0]) > 0)
    if votes and sum(votes) < len(votes) / 2:
        other = "left" if foot.side == "right" else "right"
        return [QCWarning("side_mismatch", "warning",
                          f"the medial landmarks lie on the lateral side: this may be a {other} foot "
                          "(set --side to override)")]
    return []


def doubtful_landmarks(foot: FootLandmarks, warnings: list[QCWarning]) -> dict[str, str]:
    """Landmarks a measurement should not be trusted on: not ``ok``, or named in a QC warning."""
    from footalign.anatomy import LANDMARK_NAMES

    assert foot.status is not None
    out = {}
    for name, status in zip(LANDMARK_NAMES, foot.status, strict=True):
        if status != "ok":
            out[name] = status.replace("_", " ")
        elif any(w.severity == "warning" and w.code in ("implausible_distance", "off_bone", "implausible_position")
                 and re.search(rf"\b{name}\b", w.message) for w in warnings):  # TAL_HEAD is not TAL_HEAD_MED
            out[name] = "failed a QC check"
    return out


def measurement_doubts(landmarks: tuple[str, ...], doubtful: dict[str, str], *,
                       floor_source: str, needs_floor: bool) -> list[str]:
    """Why one measurement is doubtful: its own landmarks, and the tripod if it defines the floor."""
    from footalign.anatomy import FRAME_TRIPOD

    names = list(landmarks)
    if floor_source == "tripod" and needs_floor:
        names += [n for n in FRAME_TRIPOD if n not in names]
    return [f"{n} ({doubtful[n]})" for n in names if n in doubtful]

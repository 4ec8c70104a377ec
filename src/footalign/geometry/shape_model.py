"""A point-distribution prior of the 22 landmarks: where each one should be, given the others.

The prior is the Procrustes mean of ground-truth landmark sets (right-foot frame; left feet are
mirrored first) with a per-landmark spread. Fitting it to the trusted landmarks of a foot with
a similarity transform tells where the remaining ones are expected. The pipeline uses that to
recognise landmarks the field of view cut off (expected outside it, yet placed by the model on
some other bone inside it) and anatomically implausible positions.

All points are physical millimetres; the prior is rotation, translation and scale free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from footalign.anatomy import LANDMARK_NAMES, N_LANDMARKS
from footalign.image import mirror_points_x


@dataclass(frozen=True)
class Similarity:
    """``x -> scale * R @ x + t``."""

    scale: float
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    def apply(self, points: np.ndarray) -> np.ndarray:
        return self.scale * np.asarray(points, dtype=float) @ self.rotation.T + self.translation


def fit_similarity(source: np.ndarray, target: np.ndarray, *, weights: np.ndarray | None = None,
                   scale_range: tuple[float, float] | None = None) -> Similarity:
    """Weighted least-squares similarity transform taking ``source`` onto ``target`` (N, 3).

    Rows with a NaN in either set or zero weight are ignored; at least three are needed.
    ``scale_range``: the scale is clamped to it (the best rotation does not depend on the scale,
    and the translation keeps mapping centroid onto centroid).

    Notes
    -----
    Umeyama (1991): centre both sets on their weighted centroids, rotation from
    ``scipy.spatial.transform.Rotation.align_vectors``, scale = sum w |R a_i . b_i| / sum w |a_i|^2.
    """
    src, dst = np.asarray(source, dtype=float), np.asarray(target, dtype=float)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=float).copy()
    use = np.all(np.isfinite(src), axis=1) & np.all(np.isfinite(dst), axis=1) & (w > 0)
    if use.sum() < 3:
        raise ValueError(f"a similarity fit needs at least 3 point pairs, got {int(use.sum())}")
    src, dst, w = src[use], dst[use], w[use]
    w = w / w.sum()
    c_src, c_dst = w @ src, w @ dst
    a, b = src - c_src, dst - c_dst
    rotation, _ = Rotation.align_vectors(b, a, weights=w)
    matrix = rotation.as_matrix()
    rotated = a @ matrix.T
    scale = float(np.sum(w * np.einsum("ij,ij->i", rotated, b)) / max(np.sum(w * np.einsum("ij,ij->i", a, a)), 1e-12))
    if scale_range is not None:
        scale = float(np.clip(scale, *scale_range))
    return Similarity(scale, matrix, c_dst - scale * c_src @ matrix.T)


@dataclass(frozen=True)
class ShapeModel:
    """Mean landmark configuration (right-foot frame, mm) and the spread of each landmark.

    ``spread_mm[k]`` is the root-mean-square distance of landmark ``k`` from its expected
    position when the mean is fitted to the *other* landmarks of a training foot.
    """

    mean: np.ndarray  # (22, 3)
    spread_mm: np.ndarray  # (22,)
    n_feet: int
    source: str = ""

    def to_dict(self) -> dict:
        return {"schema": "footalign.shape_model", "version": 1, "landmarks": list(LANDMARK_NAMES),
                "n_feet": self.n_feet, "source": self.source,
                "mean_mm": np.round(self.mean, 3).tolist(), "spread_mm": np.round(self.spread_mm, 3).tolist()}

    @classmethod
    def from_dict(cls, doc: dict) -> ShapeModel:
        if doc.get("schema") != "footalign.shape_model" or list(doc.get("landmarks", [])) != list(LANDMARK_NAMES):
            raise ValueError("not a footalign shape model for the 22 landmarks")
        return cls(np.asarray(doc["mean_mm"], dtype=float), np.asarray(doc["spread_mm"], dtype=float),
                   int(doc["n_feet"]), str(doc.get("source", "")))


def to_right_frame(points: np.ndarray, side: str) -> np.ndarray:
    """Left feet mirrored (x -> -x) so that every foot has a right foot's handedness."""
    return mirror_points_x(points) if side == "left" else np.asarray(points, dtype=float)


def build_shape_model(point_sets: list[np.ndarray], sides: list[str], *, iterations: int = 10,
                      source: str = "") -> ShapeModel:
    """Generalised Procrustes mean of landmark sets (each (22, 3) mm, NaN = missing).

    The mean keeps the physical size of the average foot (scale of the first set's fit is 1 on
    average). ``spread_mm`` is measured leave-one-out: for each foot and landmark the mean is fitted
    to the other landmarks, and the distance of the true landmark from its prediction is taken.
    """
    sets = [to_right_frame(p, s) for p, s in zip(point_sets, sides, strict=True)]
    complete = [p for p in sets if np.all(np.isfinite(p))]
    if len(complete) < 2:
        raise ValueError("a shape model needs at least two complete landmark sets")
    mean = complete[0] - complete[0].mean(axis=0)
    for _ in range(iterations):
        aligned = [fit_similarity(p, mean).apply(p) for p in sets]
        new = np.nanmean(np.stack(aligned), axis=0)
        size = np.sqrt(np.mean([np.nansum((a - np.nanmean(a, axis=0)) ** 2) for a in
                                (p - np.nanmean(p, axis=0) for p in complete)]) / N_LANDMARKS)
        new -= new.mean(axis=0)
        new *= size / np.sqrt(np.sum(new**2) / N_LANDMARKS)
        if np.max(np.abs(new - mean)) < 1e-4:
            mean = new
            break
        mean = new
    errors = np.full((len(sets), N_LANDMARKS), np.nan)
    for f, p in enumerate(sets):
        for k in range(N_LANDMARKS):
            if not np.all(np.isfinite(p[k])):
                continue
            w = np.all(np.isfinite(p), axis=1).astype(float)
            w[k] = 0.0
            if w.sum() >= 3:
                errors[f, k] = np.linalg.norm(fit_similarity(mean, p, weights=w).apply(mean[k]) - p[k])
    spread = np.sqrt(np.nanmean(errors**2, axis=0))
    return ShapeModel(mean, spread, len(sets), source)


# Feet are 0.8-1.25 times the mean foot's size (adult feet of ~200-310 mm around a ~250 mm
# mean). Without this bound a few confident points on the wrong bone can shrink the fitted foot:
# on the real scan, whose field of view cuts the forefoot, metatarsal points placed on the
# midfoot pulled the fit to 0.64 of the mean size, forefoot and all.
FOOT_SCALE_RANGE = (0.8, 1.25)


def expected_positions(model: ShapeModel, points: np.ndarray, side: str, *, trusted: np.ndarray,
                       outlier_spreads: float = 3.0, min_outlier_mm: float = 8.0) -> np.ndarray:
    """Where every landmark of a foot is expected, from its ``trusted`` landmarks (22 bool).

    Robust: after a first fit, trusted landmarks farther than ``outlier_spreads`` spreads (and
    ``min_outlier_mm``) from their expected position are dropped and the fit repeated; the fit's
    scale stays within ``FOOT_SCALE_RANGE``. Returns (22, 3) mm in the foot's own frame; all NaN
    when fewer than four landmarks can be trusted.
    """
    pts = to_right_frame(points, side)
    use = np.asarray(trusted, dtype=bool) & np.all(np.isfinite(pts), axis=1)
    if use.sum() < 4:
        return np.full((N_LANDMARKS, 3), np.nan)
    limit = np.maximum(outlier_spreads * model.spread_mm, min_outlier_mm)
    for _ in range(3):
        fit = fit_similarity(model.mean, pts, weights=use.astype(float), scale_range=FOOT_SCALE_RANGE)
        expected = fit.apply(model.mean)
        residual = np.linalg.norm(expected - pts, axis=1)
        keep = use & ~(residual > limit)
        if keep.sum() < 4 or np.array_equal(keep, use):
            break
        use = keep
    return to_right_frame(expected, side)  # mirroring is its own inverse

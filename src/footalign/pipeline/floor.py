"""Detect the weight-bearing platform: a flat, dense slab under the feet.

Outside the feet's footprint, a column through the platform holds only a thin dense layer
whose top lies below the lowest bone. The top surfaces of those columns (sub-voxel, where the
HU profile crosses half-way from air) are fitted with a plane by RANSAC and least squares.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from footalign.landmarks import FloorPlane
from footalign.pipeline.analysis import AIR_HU, ScanAnalysis

MAX_PLATFORM_THICKNESS_MM = 30.0
MIN_PLATFORM_AREA_MM2 = 3000.0
MAX_TILT_DEG = 30.0


def fit_plane_ransac(points: np.ndarray, *, threshold: float, iterations: int = 300,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust plane fit: RANSAC on 3-point samples, then least squares on the inliers.

    Returns (point on plane, unit normal, inlier mask).
    """
    rng = np.random.default_rng(seed)
    best = np.zeros(len(points), bool)
    for _ in range(iterations):
        a, b, c = points[rng.choice(len(points), 3, replace=False)]
        n = np.cross(b - a, c - a)
        norm = np.linalg.norm(n)
        if norm < 1e-9:
            continue
        inliers = np.abs((points - a) @ (n / norm)) < threshold
        if inliers.sum() > best.sum():
            best = inliers
    centre = points[best].mean(axis=0)
    _, _, vt = np.linalg.svd(points[best] - centre, full_matrices=False)
    normal = vt[-1]
    inliers = np.abs((points - centre) @ normal) < threshold
    return centre, normal, inliers


def platform_surface_points(analysis: ScanAnalysis, bone: np.ndarray) -> np.ndarray:
    """LPS points on the top surface of thin dense layers below the bones, outside the feet."""
    values, body, sp = analysis.image.array, analysis.body, analysis.spacing
    z_bone_min = int(np.flatnonzero(bone.any(axis=(0, 1)))[0])
    footprint = ndimage.binary_dilation(bone.any(axis=2), iterations=max(1, round(15.0 / sp)))
    has_body = body.any(axis=2)
    thickness = body.sum(axis=2) * sp
    n_z = body.shape[2]
    top = n_z - 1 - np.argmax(body[:, :, ::-1], axis=2)  # highest body voxel per column
    candidates = (has_body & ~footprint & (thickness <= MAX_PLATFORM_THICKNESS_MM)
                  & (top <= z_bone_min + round(10.0 / sp)) & (top < n_z - 1))
    ii, jj = np.nonzero(candidates)
    if ii.size == 0:
        return np.empty((0, 3))
    # Sub-voxel top surface: where the column's profile crosses half-way between the slab's
    # densest value and air (a symmetric blur does not move that crossing).
    profiles = values[ii, jj, :]
    slab = np.where(body[ii, jj, :], profiles, -np.inf).max(axis=1)
    level = 0.5 * (slab + AIR_HU)
    z_index = np.arange(n_z)[None, :]
    above_level = (profiles >= level[:, None]) & (z_index <= top[ii, jj][:, None])
    kk = n_z - 1 - np.argmax(above_level[:, ::-1], axis=1)
    kk = np.minimum(kk, n_z - 2)
    v_in, v_out = profiles[np.arange(len(kk)), kk], profiles[np.arange(len(kk)), kk + 1]
    frac = np.clip((v_in - level) / np.maximum(v_in - v_out, 1e-3), 0.0, 1.0)
    idx = np.stack([ii, jj, kk + frac], axis=1).astype(float)
    return analysis.image.index_to_physical(idx)


def detect_platform(analysis: ScanAnalysis, bone: np.ndarray) -> FloorPlane | None:
    """The platform plane under the feet, or ``None`` when no platform is visible.

    Parameters
    ----------
    analysis : coarse LPS view of the scan (superior = +z).
    bone : bone mask of all feet on the analysis grid.

    Returns
    -------
    FloorPlane with ``source="platform"`` (normal pointing up, towards the bones), or ``None``.
    """
    if not bone.any():
        return None
    points = platform_surface_points(analysis, bone)
    min_points = MIN_PLATFORM_AREA_MM2 / analysis.spacing**2
    if len(points) < max(min_points, 10):
        return None
    centre, normal, inliers = fit_plane_ransac(points, threshold=1.0 * analysis.spacing)
    if inliers.sum() < max(min_points, 0.5 * len(points)):
        return None
    inlier_pts = points[inliers]
    span = inlier_pts.max(axis=0) - inlier_pts.min(axis=0)
    if np.sort(span)[-2] < 60.0:  # a platform spans the foot in both horizontal directions
        return None
    if normal[2] < 0:
        normal = -normal
    tilt = np.degrees(np.arccos(np.clip(abs(normal[2]), 0.0, 1.0)))
    if tilt > MAX_TILT_DEG:
        return None
    # The bones must stand on it: the bone centroid lies above the plane.
    if (analysis.points(bone).mean(axis=0) - centre) @ normal <= 0:
        return None
    return FloorPlane(point=centre, normal=normal, source="platform")

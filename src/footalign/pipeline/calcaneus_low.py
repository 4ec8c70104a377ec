"""CALC_LOW measured in the image, from the network's point as a start.

CALC_LOW is the lowest point of the calcaneal tuberosity (ANATOMY.md): lowest along the floor
normal. The tuberosity's plantar surface is nearly flat from side to side, so the image shows
no feature where the point sits across the heel, and the heatmap network's error there is a
millimetre or two (up to 5 mm), which the hindfoot axis CALC_PFA -> CALC_LOW turns into
degrees. The definition can be measured instead: the height map of the bone's lower surface
around the start point, the part of it within ``anatomy.CALC_LOW_PLATEAU_MM`` of its lowest
point, and the surface point nearest to that part's centre (the simulator's ground truth uses
the same rule on the bone mesh).

Everything is in physical LPS millimetres; the image is sampled through its own geometry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from footalign.anatomy import CALC_LOW_PLATEAU_MM
from footalign.geometry.planes import plane_basis
from footalign.image import Image
from footalign.model.sampling import sample_points

SEARCH_RADIUS_MM = 15.0  # the network's worst CALC_LOW errors are ~5 mm
SEARCH_BELOW_MM = 10.0  # the columns start in the heel pad (10-20 mm thick)...
SEARCH_ABOVE_MM = 12.0  # ... and end inside the calcaneus
COLUMN_STEP_MM = 0.5
HEIGHT_STEP_MM = 0.25
# The edge is looked for this far below and above a column's first bone sample; the profiles
# are smoothed along the column first (image noise is 10-40 HU per voxel).
EDGE_WINDOW_MM = 2.5
PROFILE_SMOOTHING_MM = 0.5
# Bone, for finding a column's first bone sample: this far above the soft-tissue peak (a thin
# cortex at 1 mm voxels peaks at only ~250-300 HU), at least EDGE_MIN_HU (muscle is 20-60 HU
# with noise on top, and a fatty scan's peak is fat) and no higher than the scan's bone threshold.
EDGE_CONTRAST_HU = 120.0
EDGE_MIN_HU = 150.0
# The lowest surface must lie this close to the start's height, or the start was not at the
# bottom of the heel (or the surface found is something else): the start is kept then.
MAX_HEIGHT_CHANGE_MM = 4.0
ROUNDS = 3  # a lowest point at the search disk's border restarts the search there


@dataclass
class LowestPoint:
    """Result of :func:`lowest_bone_point` (LPS mm; ``point`` None with ``reason`` when not found)."""

    point: np.ndarray | None
    plateau_columns: int = 0
    reason: str = ""


def bottom_surface(
    image: Image,
    centre: np.ndarray,
    up: np.ndarray,
    *,
    threshold_hu: float,
    radius_mm: float = SEARCH_RADIUS_MM,
    inside: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The lower bone surface under and around ``centre``, as seen looking up along ``up``.

    Columns along ``up`` on a disk of ``radius_mm`` around ``centre`` (perpendicular to ``up``)
    are sampled from :data:`SEARCH_BELOW_MM` below to :data:`SEARCH_ABOVE_MM` above it. In each
    column that starts below ``threshold_hu`` and reaches it, the surface is where the profile
    gets half-way from its lowest value in the :data:`EDGE_WINDOW_MM` below the first bone
    sample (fat or soft tissue) to its peak in the window above (the cortex): a half-maximum
    edge, which a fixed threshold would miss on a thin, blurred cortex.

    Returns ``(points, found)``: the surface points ``(n, n, 3)`` (LPS mm) and which columns
    have one (a 3x3 median of the heights removes single noisy columns).
    """
    up = np.asarray(up, dtype=float) / np.linalg.norm(up)
    u, v = plane_basis(up)
    offsets = np.arange(-radius_mm, radius_mm + 1e-9, COLUMN_STEP_MM)
    heights = np.arange(-SEARCH_BELOW_MM, SEARCH_ABOVE_MM + 1e-9, HEIGHT_STEP_MM)
    a, b = np.meshgrid(offsets, offsets, indexing="ij")
    base = np.asarray(centre, dtype=float) + a[..., None] * u + b[..., None] * v  # (n, n, 3)
    points = base[:, :, None, :] + heights[:, None] * up  # (n, n, h, 3)
    values = sample_points(image, points.reshape(-1, 3), background_hu=-1000.0).reshape(points.shape[:3])
    values = ndimage.gaussian_filter1d(values, PROFILE_SMOOTHING_MM / HEIGHT_STEP_MM, axis=-1)
    window = round(EDGE_WINDOW_MM / HEIGHT_STEP_MM)
    bone = values >= threshold_hu
    first = np.argmax(bone, axis=-1)
    found = bone.any(axis=-1) & (first >= window) & (a**2 + b**2 <= radius_mm**2)
    if inside is not None:
        found &= inside(points[:, :, 0, :].reshape(-1, 3)).reshape(found.shape)
    # The edge window: `window` samples below the first bone sample and `window` above it.
    rows = np.clip(first[..., None] + np.arange(-window, window + 1), 0, len(heights) - 1)
    profile = np.take_along_axis(values, rows, axis=-1)
    low_at = np.argmin(profile[..., :window], axis=-1)
    low = np.take_along_axis(profile, low_at[..., None], axis=-1)[..., 0]
    half = 0.5 * (low + profile[..., window:].max(axis=-1))
    # The first sample at or above the half level after the lowest one (at latest the first
    # bone sample, which is above threshold and so above the half level or at the peak).
    after = np.arange(profile.shape[-1]) > low_at[..., None]
    k = np.argmax(after & (profile >= half[..., None]), axis=-1)
    k = np.clip(k, 1, profile.shape[-1] - 1)
    lo = np.take_along_axis(profile, (k - 1)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(profile, k[..., None], axis=-1)[..., 0]
    frac = np.clip((half - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)
    height = heights[np.clip(first - window + k - 1, 0, len(heights) - 1)] + frac * HEIGHT_STEP_MM
    height = np.where(found, height, np.inf)
    smooth = ndimage.median_filter(height, size=3, mode="nearest")
    found &= np.isfinite(smooth)
    return base + np.where(found, smooth, 0.0)[..., None] * up, found


def lowest_bone_point(
    image: Image,
    start: np.ndarray,
    up: np.ndarray,
    *,
    threshold_hu: float,
    soft_tissue_hu: float,
    inside: Callable[[np.ndarray], np.ndarray] | None = None,
    plateau_mm: float = CALC_LOW_PLATEAU_MM,
    radius_mm: float = SEARCH_RADIUS_MM,
) -> LowestPoint:
    """The lowest point (along ``up``) of the bone surface near ``start``, made stable on a
    flat bottom: of the surface within ``plateau_mm`` of the lowest, the point nearest to its
    centre. ``start`` is the network's CALC_LOW; ``up`` the floor normal (LPS mm throughout)."""
    up = np.asarray(up, dtype=float) / np.linalg.norm(up)
    start = np.asarray(start, dtype=float)
    start_height = float(start @ up)
    centre = start
    threshold = min(threshold_hu, max(EDGE_MIN_HU, soft_tissue_hu + EDGE_CONTRAST_HU))
    for _ in range(ROUNDS):
        surface, found = bottom_surface(image, centre, up, threshold_hu=threshold, radius_mm=radius_mm,
                                        inside=inside)
        if not found.any():
            return LowestPoint(None, 0, "no bone surface under the start point")
        height = np.where(found, surface @ up, np.inf)
        if abs(height.min() - start_height) > MAX_HEIGHT_CHANGE_MM:
            return LowestPoint(None, 0, f"the lowest bone surface lies {height.min() - start_height:+.1f} mm "
                                        "from the start's height")
        plateau = found & (height <= height.min() + plateau_mm)
        flat = surface[plateau]
        chosen = flat[int(np.argmin(((flat - flat.mean(axis=0)) ** 2).sum(axis=1)))]
        # A plateau that reaches the disk's rim may go on outside it: search again around it.
        sideways = (flat - centre) - np.outer((flat - centre) @ up, up)
        if np.linalg.norm(sideways, axis=1).max() > radius_mm - 2.0 * COLUMN_STEP_MM:
            centre = chosen - ((chosen - centre) @ up) * up
            continue
        # The height stays the start's: the network's height error is ~0.2 mm, while the image's
        # half-maximum edge of a thin, blurred cortex lies ~0.5 mm outside the bone surface.
        return LowestPoint(chosen + (start_height - float(chosen @ up)) * up, int(plateau.sum()))
    return LowestPoint(None, 0, "the lowest bone surface runs on out of the search region")

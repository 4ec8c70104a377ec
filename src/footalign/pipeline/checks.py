"""Content checks on a scan that was read fine but cannot hold a foot we can measure."""

from __future__ import annotations

import numpy as np

from footalign.errors import InputError
from footalign.image import Image

MAX_SPACING_MM = 5.0
MIN_SPACING_MM = 0.05
MIN_SLICES = 8


def check_scan_content(image: Image, *, source: str) -> None:
    """Raise ``InputError`` (one line naming ``source``) if ``image`` cannot be a usable CT.

    Checks, in order: finite voxel size within [0.05, 5] mm, at least 8 voxels along every axis
    (not a 2D image or a scout), a non-singular direction matrix, no NaN/inf voxels, and not a
    constant volume. Whether a foot is in it is checked later, by foot detection.
    """
    spacing = np.asarray(image.spacing, dtype=float)
    if not np.all(np.isfinite(spacing)) or np.any(spacing < MIN_SPACING_MM):
        raise InputError(f"{source}: voxel spacing {_fmt(spacing)} mm is zero or invalid")
    if np.any(spacing > MAX_SPACING_MM):
        raise InputError(f"{source}: voxel spacing {_fmt(spacing)} mm is too coarse for foot landmarks "
                         f"(at most {MAX_SPACING_MM:g} mm)")
    if min(image.shape) < MIN_SLICES:
        raise InputError(f"{source}: image of {image.shape[0]}x{image.shape[1]}x{image.shape[2]} voxels "
                         "is not a 3D volume (a 2D image or a scout?)")
    if abs(np.linalg.det(image.direction)) < 1e-6:
        raise InputError(f"{source}: the image direction matrix is degenerate")
    array = image.array
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        n_bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InputError(f"{source}: volume contains {n_bad} NaN/infinite voxels")
    lowest, highest = float(np.min(array)), float(np.max(array))
    if highest - lowest < 1e-6:
        raise InputError(f"{source}: volume is constant ({lowest:g} everywhere), no anatomy in it")


def _fmt(spacing: np.ndarray) -> str:
    return "x".join(f"{s:g}" for s in spacing)
